import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { RUNNERS_DIR } from "../paths.ts";
import { platformFacts } from "../platform.ts";
import { runLogged, tryOutput } from "./exec.ts";

/** Cargo's target folder, outside the clone so builds survive between CI runs and fresh clones. */
export const burnTargetDir = (): string =>
  process.env.CARGO_TARGET_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "qwen3-bench", "cargo-target");

/** The runner binary: BENCH_BURN_BIN (a prebuilt binary, e.g. on an offline GPU host) or the cargo build. */
export const burnBinary = (): string => process.env.BENCH_BURN_BIN || join(burnTargetDir(), "release", "qwen3-burn-runner");

/**
 * Cargo features for this machine: `cpu` always; `wgpu` where a Vulkan loader and a GPU exist (or macOS,
 * as `metal`); `cuda` with an NVIDIA GPU. BENCH_BURN_FEATURES (comma list) overrides.
 */
export async function burnFeatures(): Promise<string[]> {
  if (process.env.BENCH_BURN_FEATURES) return process.env.BENCH_BURN_FEATURES.split(",").map((s) => s.trim()).filter(Boolean);
  const p = await platformFacts();
  if (p.os === "darwin") return p.appleSilicon ? ["cpu", "metal"] : ["cpu"];
  return ["cpu", ...(p.vulkanLoader && p.gpuDeviceNode ? ["wgpu"] : []), ...(p.nvidiaGpu ? ["cuda"] : [])];
}

/** Backends compiled into the binary (it prints them with --list-backends), or null without a binary. */
export async function compiledBackends(): Promise<string[] | null> {
  const bin = burnBinary();
  if (!existsSync(bin)) return null;
  const out = await tryOutput(bin, ["--list-backends"]);
  return out === null ? null : out.split(/\s+/).filter(Boolean);
}

let built = false;

/**
 * Builds the runner with this machine's features. Cargo decides what is stale (an up-to-date build
 * takes about a second), so edits to the runner and feature changes are always picked up.
 */
export async function buildBurn(): Promise<void> {
  if (process.env.BENCH_BURN_BIN || built) return;
  if ((await tryOutput("cargo", ["--version"])) === null) throw new Error("cargo not found: install Rust >= 1.92 (rustup) to build the Burn runner");
  const features = await burnFeatures();
  await runLogged(`setup burn (${features.join(",")})`, "cargo", ["build", "--release", "--features", features.join(","), "--manifest-path", join(RUNNERS_DIR, "burn", "Cargo.toml")], {
    env: { CARGO_TARGET_DIR: burnTargetDir() },
  });
  built = true;
}
