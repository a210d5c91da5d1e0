import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RUNNERS_DIR } from "../paths.ts";
import { platformFacts } from "../host/platform.ts";
import { parseProfilers, profilerBurnFeatures } from "../profiler.ts";
import { runLogged, tryOutput } from "../host/command.ts";
import { buildKey } from "./build-key.ts";
import { benchCacheDir, hostSettings } from "../settings.ts";

/** Cargo's target folder, outside the clone so builds survive between CI runs and fresh clones. */
export const burnTargetDir = (): string => hostSettings().CARGO_TARGET_DIR ?? join(benchCacheDir(), "cargo-target");

/** The runner binary: BENCH_BURN_BIN (a prebuilt binary, e.g. on an offline GPU host) or the cargo build. */
export const burnBinary = (): string => hostSettings().BENCH_BURN_BIN ?? join(burnTargetDir(), "release", "qwen3-burn-runner");

/**
 * Cargo features for this machine: `cpu` always; `wgpu` where a Vulkan loader and a GPU exist (or macOS,
 * as `metal`); `cuda` with an NVIDIA GPU; a Burn profiler's feature (BENCH_PROFILER). BENCH_BURN_FEATURES (comma list) overrides.
 */
export async function burnFeatures(): Promise<string[]> {
  const host = hostSettings();
  if (host.BENCH_BURN_FEATURES) return host.BENCH_BURN_FEATURES.split(",").map((s) => s.trim()).filter(Boolean);
  const p = await platformFacts(host.LD_LIBRARY_PATH);
  // BENCH_PROFILER's Burn profilers need their feature compiled in (never in the benchmark's own build).
  const profiling = profilerBurnFeatures(parseProfilers(host.BENCH_PROFILER));
  if (p.os === "darwin") return [...(p.appleSilicon ? ["cpu", "metal"] : ["cpu"]), ...profiling];
  return ["cpu", ...(p.vulkanLoader && p.gpuDeviceNode ? ["wgpu"] : []), ...(p.nvidiaGpu ? ["cuda"] : []), ...profiling];
}

/** Backends compiled into the binary (it prints them with --list-backends), or null without a binary. */
export async function compiledBackends(): Promise<string[] | null> {
  const bin = burnBinary();
  if (!existsSync(bin)) return null;
  const out = await tryOutput(bin, ["--list-backends"]);
  return out === null ? null : out.split(/\s+/).filter(Boolean);
}

/** Files whose contents decide the binary (with the features, the profile and the compiler). */
const BUILD_INPUTS = ["Cargo.toml", "Cargo.lock", "build.rs", "src"];

/**
 * The build key: sha256 of the runner's sources (by path relative to its folder, and contents), the
 * features, the cargo profile and the compiler version. Equal keys build equal binaries, so a key
 * that matches the binary's stamp skips cargo altogether: no fingerprint walk over ~150 crates, and
 * no rebuild when only the commit changed (build.rs re-runs on every commit) but the runner did not.
 */
export function burnBuildKey(crateDir: string, features: string[], profile: string, rustc: string): string {
  return buildKey(crateDir, BUILD_INPUTS, { features: [...features].sort(), profile, rustc });
}

/** The stamp beside the binary: the build key it was built from and the binary's mtime then (a later cargo run by hand invalidates it). */
const stampFile = (bin: string) => `${bin}.qwen3-bench-build-key`;

function stampMatches(bin: string, key: string): boolean {
  if (!existsSync(bin) || !existsSync(stampFile(bin))) return false;
  const [stampKey, mtimeMs] = readFileSync(stampFile(bin), "utf8").trim().split(" ");
  return stampKey === key && Number(mtimeMs) === statSync(bin).mtimeMs;
}

let building: Promise<void> | null = null;

/**
 * Builds the runner with this machine's features, once per process however many Burn frameworks ask.
 * Skipped when the binary's stamp holds the current build key; otherwise cargo decides what is stale,
 * so edits to the runner and feature changes are always picked up.
 */
export function buildBurn(): Promise<void> {
  if (hostSettings().BENCH_BURN_BIN) return Promise.resolve();
  building ??= (async () => {
    const rustc = await tryOutput("rustc", ["--version"]);
    if ((await tryOutput("cargo", ["--version"])) === null || rustc === null) throw new Error("cargo not found: install Rust >= 1.92 (rustup) to build the Burn runner");
    const features = await burnFeatures();
    const crateDir = join(RUNNERS_DIR, "burn");
    const bin = burnBinary();
    const key = burnBuildKey(crateDir, features, "release", rustc);
    if (stampMatches(bin, key)) return;
    await runLogged(`setup burn (${features.join(",")})`, "cargo", ["build", "--release", "--features", features.join(","), "--manifest-path", join(crateDir, "Cargo.toml")], {
      env: { CARGO_TARGET_DIR: burnTargetDir() },
    });
    writeFileSync(stampFile(bin), `${key} ${statSync(bin).mtimeMs}\n`);
  })();
  return building;
}
