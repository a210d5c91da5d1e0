// The Linux build step of burn-mlx (bench/harness/setup/burn-mlx-build.ts): the text patches to
// mlx-sys-burn, on small synthetic files shaped like the crate's (not its text), and the patched
// copy it writes. The real crate is patched and built by `setup` (BENCH_BURN_MLX=linux-cpu).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { writePatchedCrate } from "../harness/setup/burn-mlx-build.ts";
import { PATCH_MARKER, SYSTEM_MLX_ENV, patchBuildScript, patchHalfHeader } from "../harness/setup/mlx-sys-burn-patch.ts";

const work = mkdtempSync(join(tmpdir(), "qwen3-bench-burn-mlx-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A build script with the one function the patch hooks into (the rest is unrelated filler). */
const BUILD_RS = [
  "use cmake::Config;",
  "use std::{env, path::PathBuf};",
  "",
  "fn build_and_link_mlx_c() {",
  '    let dst = Config::new("src/mlx-c").build();',
  '    println!("cargo:rustc-link-lib=dylib=objc");',
  '    println!("cargo:rustc-link-lib=framework=Foundation");',
  "}",
  "",
  "fn main() {",
  "    build_and_link_mlx_c();",
  "}",
  "",
].join("\n");

/** A header declaring the half types only on aarch64, inside C linkage. */
const HALF_H = [
  "#ifndef HALF_TYPES_H",
  "#define HALF_TYPES_H",
  "#ifdef __cplusplus",
  'extern "C" {',
  "#endif",
  "#if defined(__aarch64__)",
  "#define HAS_FLOAT16",
  "typedef __fp16 float16_t;",
  "#define HAS_BFLOAT16",
  "typedef __bf16 bfloat16_t;",
  "#endif",
  "",
  "#ifdef __cplusplus",
  "}",
  "#endif",
  "#endif",
  "",
].join("\n");

describe("patchBuildScript", () => {
  const patched = patchBuildScript(BUILD_RS);

  test("build_and_link_mlx_c hands over to the system-MLX build first when the variable is set", () => {
    const body = patched.slice(patched.indexOf("fn build_and_link_mlx_c() {"));
    const hook = body.indexOf(`if let Ok(prefix) = env::var("${SYSTEM_MLX_ENV}")`);
    expect(hook).toBeGreaterThan(0);
    expect(hook).toBeLessThan(body.indexOf("Config::new"));
    expect(body.indexOf("return;")).toBeGreaterThan(hook);
  });

  test("the appended function builds mlx-c against the prebuilt MLX and links no Apple library", () => {
    const added = patched.slice(patched.indexOf("fn build_and_link_mlx_c_against_system_mlx"));
    for (const line of [
      'config.define("MLX_C_USE_SYSTEM_MLX", "ON");',
      'config.define("MLX_DIR", format!("{prefix}/share/cmake/MLX"));',
      'println!("cargo:rustc-link-lib=static=mlxc");',
      'println!("cargo:rustc-link-lib=dylib=mlx");',
      'println!("cargo:rustc-link-lib=dylib=stdc++");',
      `println!("cargo:rerun-if-env-changed=${SYSTEM_MLX_ENV}");`,
    ]) {
      expect(added).toContain(line);
    }
    expect(added).not.toMatch(/objc|framework=|=c\+\+"/);
    // The published code stays as it was for builds without the variable (macOS).
    expect(patched).toContain('println!("cargo:rustc-link-lib=framework=Foundation");');
  });

  test("refuses a file without the anchor, with it twice, or already patched", () => {
    expect(() => patchBuildScript("fn main() {}\n")).toThrow(/build\.rs: expected text not found/);
    expect(() => patchBuildScript(BUILD_RS + BUILD_RS)).toThrow(/occurs more than once/);
    expect(() => patchBuildScript(patched)).toThrow(/already patched/);
  });
});

describe("patchHalfHeader", () => {
  const patched = patchHalfHeader(HALF_H);

  test("adds an x86-64 branch inside the C linkage block, after the aarch64 one", () => {
    expect(patched).toContain(PATCH_MARKER);
    const x86 = patched.indexOf("#if defined(__x86_64__)");
    expect(x86).toBeGreaterThan(patched.indexOf("typedef __bf16 bfloat16_t;"));
    expect(x86).toBeLessThan(patched.lastIndexOf("#ifdef __cplusplus"));
    expect(() => patchHalfHeader(patched)).toThrow(/already patched/);
    expect(() => patchHalfHeader("#endif\n")).toThrow(/half\.h: expected text not found/);
  });

  // GCC compiles mlx-c: its C++ and C both must see 2-byte types and both HAS_ macros on x86-64.
  test.runIf(process.arch === "x64")("GCC (C++ and C) sees 2-byte float16_t and bfloat16_t on x86-64", () => {
    const header = join(work, "half.h");
    writeFileSync(header, patched);
    const check = [
      `#include "${header}"`,
      "#if !defined(HAS_FLOAT16) || !defined(HAS_BFLOAT16)",
      "#error half types not declared",
      "#endif",
      "_Static_assert(sizeof(float16_t) == 2, \"float16_t\");",
      "_Static_assert(sizeof(bfloat16_t) == 2, \"bfloat16_t\");",
      "int item_float16(float16_t* res);",
      "",
    ].join("\n");
    for (const [compiler, language] of [["g++", "c++"], ["gcc", "c"]] as const) {
      execFileSync(compiler, ["-x", language, "-fsyntax-only", "-"], { input: language === "c++" ? check.replaceAll("_Static_assert", "static_assert") : check });
    }
  });
});

describe("writePatchedCrate", () => {
  const published = join(work, "published");
  const copy = join(work, "cache", "mlx-sys-burn-0.2.2");
  const write = (file: string, text: string) => {
    mkdirSync(dirname(join(published, file)), { recursive: true });
    writeFileSync(join(published, file), text);
  };
  write("build.rs", BUILD_RS);
  write("src/mlx-c/mlx/c/half.h", HALF_H);
  write("src/lib.rs", "// bindings\n");

  test("copies the crate with both files patched, leaves the published files as they were", () => {
    writePatchedCrate(published, copy);
    expect(readFileSync(join(copy, "build.rs"), "utf8")).toBe(patchBuildScript(BUILD_RS));
    expect(readFileSync(join(copy, "src/mlx-c/mlx/c/half.h"), "utf8")).toBe(patchHalfHeader(HALF_H));
    expect(readFileSync(join(copy, "src/lib.rs"), "utf8")).toBe("// bindings\n");
    expect(readFileSync(join(published, "build.rs"), "utf8")).toBe(BUILD_RS);
  });

  test("an unchanged copy is kept (timestamps too, so cargo does not rebuild); a changed source is copied again", () => {
    writePatchedCrate(published, copy);
    const before = statSync(join(copy, "src/lib.rs")).mtimeMs;
    writePatchedCrate(published, copy);
    expect(statSync(join(copy, "src/lib.rs")).mtimeMs).toBe(before);
    write("src/lib.rs", "// bindings, changed\n");
    writePatchedCrate(published, copy);
    expect(readFileSync(join(copy, "src/lib.rs"), "utf8")).toBe("// bindings, changed\n");
  });

  test("a crate without one of the patched files is refused, naming it", () => {
    const incomplete = join(work, "incomplete");
    mkdirSync(incomplete);
    writeFileSync(join(incomplete, "build.rs"), BUILD_RS);
    expect(() => writePatchedCrate(incomplete, join(work, "cache", "incomplete"))).toThrow(/src\/mlx-c\/mlx\/c\/half\.h missing/);
  });
});
