import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { RUNNERS_DIR } from "../paths.ts";
import { burnTargetDir } from "./burn-build.ts";
import { filesUnder } from "./build-key.ts";
import { runLogged, tryOutput } from "../host/command.ts";
import { MLX_SYS_BURN_PATCHES, SYSTEM_MLX_ENV } from "./mlx-sys-burn-patch.ts";
import { uvCommand } from "./python-env.ts";
import { benchCacheDir, hostSettings } from "../settings.ts";

/**
 * burn-mlx on Linux's CPU from the registries only (crates.io, PyPI), switched on by
 * `BENCH_BURN_MLX=linux-cpu`. As published, burn-mlx's MLX bindings (`mlx-sys-burn` 0.2.2) build
 * only on macOS (see mlx-sys-burn-patch.ts), and the MLX they would build (v0.25.1) comes from
 * GitHub. Here:
 *
 * 1. PyPI's `mlx-cpu` wheel, pinned, unpacked under the cache: a prebuilt MLX 0.26.5 for Linux
 *    (`libmlx.so` with its BLAS/LAPACK, headers, CMake package). Not the 0.25.1 that mlx-sys-burn's
 *    bundled mlx-c was written against: the runner reports the version it loaded.
 * 2. `mlx-sys-burn` as cargo downloaded it, copied out of cargo's registry cache into the cache
 *    folder and patched there (never in the registry, never in git).
 * 3. cargo builds runners/burn-mlx with that copy as a `paths` override, which, unlike `[patch]`,
 *    leaves the committed Cargo.lock valid, so the build stays `--locked`.
 */

/** The switch's value that asks for this build (on Linux). */
export const BURN_MLX_LINUX_CPU = "linux-cpu";

export const MLX_CPU_VERSION = "0.26.5";
export const MLX_SYS_BURN_VERSION = "0.2.2";

/** True when `BENCH_BURN_MLX=linux-cpu` on Linux. */
export const burnMlxLinuxCpuRequested = (): boolean => process.platform === "linux" && hostSettings().BENCH_BURN_MLX === BURN_MLX_LINUX_CPU;


/** The folder the mlx-cpu wheel is unpacked into (`uv pip install --target`). */
export const mlxCpuTarget = (): string => join(benchCacheDir(), `mlx-cpu-${MLX_CPU_VERSION}`);
/** The wheel's MLX prefix: lib/libmlx.so, include/, share/cmake/MLX/. */
export const mlxCpuPrefix = (): string => join(mlxCpuTarget(), "mlx");
/** The patched copy of mlx-sys-burn. */
export const patchedMlxSysDir = (): string => join(benchCacheDir(), "burn-mlx-linux", `mlx-sys-burn-${MLX_SYS_BURN_VERSION}`);

const manifestPath = (): string => join(RUNNERS_DIR, "burn-mlx", "Cargo.toml");

/** Installs the pinned mlx-cpu wheel (no dependencies: it has none, and brings its BLAS/LAPACK). */
async function ensureMlxCpu(): Promise<string> {
  const config = join(mlxCpuPrefix(), "share", "cmake", "MLX", "MLXConfig.cmake");
  if (existsSync(config)) return mlxCpuPrefix();
  const staging = `${mlxCpuTarget()}.partial`;
  rmSync(staging, { recursive: true, force: true });
  const [cmd, ...pre] = await uvCommand();
  await runLogged("setup burn-mlx (mlx-cpu)", cmd, [...pre, "pip", "install", "--quiet", "--no-deps", "--python", "python3", "--target", staging, `mlx-cpu==${MLX_CPU_VERSION}`]);
  rmSync(mlxCpuTarget(), { recursive: true, force: true });
  renameSync(staging, mlxCpuTarget());
  if (!existsSync(config)) throw new Error(`mlx-cpu ${MLX_CPU_VERSION}: ${config} missing after install`);
  return mlxCpuPrefix();
}

/** The folder of mlx-sys-burn as published, in cargo's registry cache. */
async function publishedMlxSysBurn(): Promise<string> {
  // Downloads with progress and no time limit (a fresh CI machine fetches every crate here), so
  // that `cargo metadata` then only reads.
  await runLogged("setup burn-mlx (cargo fetch)", "cargo", ["fetch", "--locked", "--manifest-path", manifestPath()]);
  const metadata = await tryOutput("cargo", ["metadata", "--locked", "--offline", "--format-version", "1", "--manifest-path", manifestPath()]);
  if (metadata === null) throw new Error(`cargo metadata failed for ${manifestPath()} (run it by hand to see why)`);
  const packages = (JSON.parse(metadata) as { packages: Array<{ name: string; version: string; source: string | null; manifest_path: string }> }).packages;
  const found = packages.find((p) => p.name === "mlx-sys-burn" && p.version === MLX_SYS_BURN_VERSION && p.source?.startsWith("registry+"));
  if (!found) throw new Error(`${manifestPath()}: no mlx-sys-burn ${MLX_SYS_BURN_VERSION} from crates.io in its dependency graph`);
  return dirname(found.manifest_path);
}

/**
 * Copies the published crate to `targetDir` and patches it. A copy made from the same files with
 * the same result is left alone, keeping its timestamps, so cargo does not rebuild mlx-c on every
 * setup.
 */
export function writePatchedCrate(publishedDir: string, targetDir: string): void {
  const patched = MLX_SYS_BURN_PATCHES.map(({ file, patch }) => {
    const path = join(publishedDir, file);
    if (!statSync(path, { throwIfNoEntry: false })?.isFile()) throw new Error(`${publishedDir}: ${file} missing`);
    return { file, text: patch(readFileSync(path, "utf8")) };
  });
  const hash = createHash("sha256");
  for (const file of filesUnder(publishedDir).map((path) => relative(publishedDir, path))) hash.update(file).update("\0").update(readFileSync(join(publishedDir, file))).update("\0");
  for (const { file, text } of patched) hash.update(file).update("\0").update(text).update("\0");
  const stamp = hash.digest("hex");
  const stampFile = join(targetDir, ".qwen3-bench-stamp");
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return;
  rmSync(targetDir, { recursive: true, force: true });
  mkdirSync(dirname(targetDir), { recursive: true });
  cpSync(publishedDir, targetDir, { recursive: true });
  for (const { file, text } of patched) writeFileSync(join(targetDir, file), text);
  writeFileSync(stampFile, stamp);
}

/**
 * Builds runners/burn-mlx for Linux's CPU into the shared cargo target folder. Cargo decides what is
 * stale, as for the macOS build.
 */
export async function buildBurnMlxLinuxCpu(): Promise<void> {
  if ((await tryOutput("cargo", ["--version"])) === null) throw new Error("cargo not found: install Rust (rustup) to build the burn-mlx runner");
  if ((await tryOutput("cmake", ["--version"])) === null) throw new Error("cmake not found: mlx-sys-burn builds mlx-c with CMake (apt-get install cmake)");
  const prefix = await ensureMlxCpu();
  const patched = patchedMlxSysDir();
  writePatchedCrate(await publishedMlxSysBurn(), patched);
  await runLogged(
    "setup burn-mlx (linux-cpu)",
    "cargo",
    ["build", "--release", "--locked", "--manifest-path", manifestPath(), "--config", `paths = [${JSON.stringify(patched)}]`],
    {
      env: {
        CARGO_TARGET_DIR: burnTargetDir(),
        [SYSTEM_MLX_ENV]: prefix,
        QWEN3_BENCH_SYSTEM_MLX_ORIGIN: "mlx-cpu wheel",
      },
    },
  );
}

/** BENCH_BURN_MLX_BIN, or the cargo build's binary (in the same target folder as runners/burn). */
export const burnMlxBinary = (): string => hostSettings().BENCH_BURN_MLX_BIN ?? join(burnTargetDir(), "release", "qwen3-burn-mlx-runner");

/**
 * Builds runners/burn-mlx: on macOS with cargo, mlx-sys-burn building MLX with CMake; on Linux
 * (BENCH_BURN_MLX=linux-cpu) against PyPI's mlx-cpu wheel (buildBurnMlxLinuxCpu). Always runs:
 * cargo decides what is stale (burn-mlx's config.rs, which lives in runners/burn, included).
 */
export async function buildBurnMlx(): Promise<void> {
  if (burnMlxLinuxCpuRequested()) return buildBurnMlxLinuxCpu();
  if ((await tryOutput("cargo", ["--version"])) === null) throw new Error("cargo not found: install Rust (rustup) to build the burn-mlx runner");
  if ((await tryOutput("cmake", ["--version"])) === null) throw new Error("cmake not found: mlx-sys-burn builds MLX with CMake (`brew install cmake`)");
  await runLogged("setup burn-mlx", "cargo", ["build", "--release", "--locked", "--manifest-path", manifestPath()], {
    env: { CARGO_TARGET_DIR: burnTargetDir() },
  });
}
