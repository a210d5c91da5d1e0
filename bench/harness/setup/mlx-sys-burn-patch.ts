/**
 * The Linux changes to `mlx-sys-burn` 0.2.2 (burn-mlx's MLX bindings), as pure text edits applied at
 * build time to the crate as published (bench/harness/setup/burn-mlx-build.ts copies it out of
 * cargo's registry cache first). As published the crate builds only on macOS:
 *
 * - its build.rs links `c++`, `objc` and `framework=Foundation`/`Metal`/`Accelerate`, and builds
 *   MLX v0.25.1 from source with CMake `FetchContent` from GitHub (MLX's own CMake then fetches
 *   json, fmt and gguf-tools from GitHub too);
 * - mlx-c's `mlx/c/half.h` declares `float16_t`/`bfloat16_t` (and so the `*_float16`/`*_bfloat16`
 *   functions) only on aarch64, but mlx-rs-burn uses `mlx_sys::float16_t`/`bfloat16_t` everywhere.
 *
 * The patched build.rs, when {@link SYSTEM_MLX_ENV} names a prebuilt MLX (PyPI's `mlx-cpu` wheel:
 * `lib/libmlx.so`, `include/`, `share/cmake/MLX/MLXConfig.cmake`), builds only mlx-c, against that
 * MLX (`MLX_C_USE_SYSTEM_MLX=ON`), and links libstdc++ and the shared libmlx; without it, it runs the
 * published code unchanged.
 */

/** The environment variable naming the prebuilt MLX's prefix folder (the one holding lib/ and share/). */
export const SYSTEM_MLX_ENV = "QWEN3_BENCH_SYSTEM_MLX";

/** The marker both patches leave, so a patched file is recognised (and never patched twice). */
export const PATCH_MARKER = "qwen3-bench: patched at build time";

/** Replaces the single occurrence of `anchor` in `text`; throws naming `file` when it is absent or repeated. */
function replaceOnce(file: string, text: string, anchor: string, replacement: string): string {
  const first = text.indexOf(anchor);
  if (first < 0) throw new Error(`${file}: expected text not found (mlx-sys-burn changed?): ${JSON.stringify(anchor)}`);
  if (text.indexOf(anchor, first + 1) >= 0) throw new Error(`${file}: expected text occurs more than once: ${JSON.stringify(anchor)}`);
  return text.slice(0, first) + replacement + text.slice(first + anchor.length);
}

const BUILD_RS_ANCHOR = "fn build_and_link_mlx_c() {\n";

/**
 * build.rs: `build_and_link_mlx_c` first hands over to a function appended at the end of the file
 * when {@link SYSTEM_MLX_ENV} is set. Bindgen (the rest of `main`) is unchanged: it reads mlx-c's
 * headers, which need only the half.h patch.
 */
export function patchBuildScript(text: string): string {
  if (text.includes(PATCH_MARKER)) throw new Error("build.rs: already patched");
  const hook = [
    BUILD_RS_ANCHOR,
    `    // ${PATCH_MARKER} (bench/harness/setup/mlx-sys-burn-patch.ts): a prebuilt MLX, no Apple frameworks.`,
    `    if let Ok(prefix) = env::var("${SYSTEM_MLX_ENV}") {`,
    "        build_and_link_mlx_c_against_system_mlx(&prefix);",
    "        return;",
    "    }",
    "",
  ].join("\n");
  const appended = `
// ${PATCH_MARKER} (bench/harness/setup/mlx-sys-burn-patch.ts).
/// mlx-c alone, against the MLX installed under \`prefix\` (its CMake package in share/cmake/MLX and
/// the shared libmlx in lib/): no download, no Metal, no Objective-C runtime or Apple frameworks.
/// The executable that links this finds libmlx at run time through an rpath it sets itself (a build
/// script's link arguments do not reach its dependents' binaries).
fn build_and_link_mlx_c_against_system_mlx(prefix: &str) {
    println!("cargo:rerun-if-env-changed=${SYSTEM_MLX_ENV}");
    let mut config = Config::new("src/mlx-c");
    config.very_verbose(true);
    config.define("CMAKE_INSTALL_PREFIX", ".");
    config.define("CMAKE_BUILD_TYPE", "Release");
    config.define("MLX_C_USE_SYSTEM_MLX", "ON");
    config.define("MLX_C_BUILD_EXAMPLES", "OFF");
    config.define("MLX_DIR", format!("{prefix}/share/cmake/MLX"));
    let dst = config.build();
    println!("cargo:rustc-link-search=native={}/build/lib", dst.display());
    println!("cargo:rustc-link-search=native={prefix}/lib");
    println!("cargo:rustc-link-lib=static=mlxc");
    println!("cargo:rustc-link-lib=dylib=mlx");
    println!("cargo:rustc-link-lib=dylib=stdc++");
}
`;
  return replaceOnce("build.rs", text, BUILD_RS_ANCHOR, hook) + appended;
}

const HALF_H_ANCHOR = "#ifdef __cplusplus\n}\n#endif";

/**
 * mlx/c/half.h: on x86-64, declare the two 16-bit float types as the 2-byte storage they are to
 * mlx-c (whose functions take and return them only through pointers: `mlx_array_item_float16`,
 * `mlx_array_data_float16`, and the bfloat16 pair). Bindgen (clang, C) reads `float16_t` as
 * `__fp16`, which it emits as `__BindgenFloat16(u16)`, and `bfloat16_t` as `uint16_t`: the two
 * shapes mlx-rs-burn's code expects (`f16::from_bits(self.0)`, `bf16::from_bits(self)`), as on
 * aarch64. C++ (mlx-c's own build, with GCC, which has no `__fp16` on x86-64) sees `uint16_t` for
 * both: `array::item<T>()`/`data<T>()` copy and cast bytes, so the bits pass through unchanged.
 */
export function patchHalfHeader(text: string): string {
  if (text.includes(PATCH_MARKER)) throw new Error("mlx/c/half.h: already patched");
  const x86 = [
    `/* ${PATCH_MARKER} (bench/harness/setup/mlx-sys-burn-patch.ts): x86-64 half types as 16-bit storage. */`,
    "#if defined(__x86_64__) && !defined(HAS_FLOAT16) && !defined(HAS_BFLOAT16)",
    "#include <stdint.h>",
    "#define HAS_FLOAT16",
    "#define HAS_BFLOAT16",
    "#if defined(__clang__) && !defined(__cplusplus)",
    "typedef __fp16 float16_t;",
    "#else",
    "typedef uint16_t float16_t;",
    "#endif",
    "typedef uint16_t bfloat16_t;",
    "#endif",
    "",
    HALF_H_ANCHOR,
  ].join("\n");
  return replaceOnce("mlx/c/half.h", text, HALF_H_ANCHOR, x86);
}

/** The files patched, relative to the crate's root, each with its edit. */
export const MLX_SYS_BURN_PATCHES: ReadonlyArray<{ file: string; patch: (text: string) => string }> = [
  { file: "build.rs", patch: patchBuildScript },
  { file: "src/mlx-c/mlx/c/half.h", patch: patchHalfHeader },
];
