import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tryOutputSync } from "./host/command.ts";
import { nvidiaQuerySync } from "./host/nvidia.ts";
import { REPO_ROOT } from "./paths.ts";
import type { Provenance } from "./schema/results.ts";
import { PACKAGE_VERSION } from "./version.ts";
import { processEnvironment } from "./settings.ts";

/** Commit of a checkout without git (an unpacked copy), when whoever copied it says so. */
export const COMMIT_ENV = "QWEN3_BENCH_COMMIT";

/** Files whose content pins the harness's and runners' dependencies, relative to the repository. */
const LOCKFILE_NAMES = ["Cargo.lock", "uv.lock", "pyproject.toml", "Package.resolved", "requirements.txt"];

/** Environment variables that change what a run measures or how. */
const KNOB = /^(BENCH_|QWEN3_)|^(MODEL_PATH|CUDA_VISIBLE_DEVICES|HIP_VISIBLE_DEVICES|RAYON_NUM_THREADS|OMP_NUM_THREADS)$/;
/** Set by the harness itself (the run folder for its reporter, the start time for progress lines), not by the user. */
const HARNESS_SET = new Set(["QWEN3_BENCH_RUN_DIR", "QWEN3_BENCH_STARTED_MS"]);

/**
 * The harness checkout: the commit given in QWEN3_BENCH_COMMIT, else `git describe --always --dirty`.
 * The variable wins because a copied working tree can carry a stale .git: the GPU host's copy of
 * 2026-11-29 described itself as the session's first commit, 298aaaa-dirty, five commits behind
 * the tree it ran.
 */
export function harnessCommit(env: NodeJS.ProcessEnv = processEnvironment()): { commit: string | null; dirty: boolean | null } {
  const given = env[COMMIT_ENV]?.trim();
  if (given) return { commit: given, dirty: given.endsWith("-dirty") ? true : null };
  const described = tryOutputSync("git", ["describe", "--always", "--dirty"], { cwd: REPO_ROOT });
  return described ? { commit: described, dirty: described.endsWith("-dirty") } : { commit: null, dirty: null };
}

/** sha256 of package-lock.json and of each runner's lockfiles and Python/Swift manifests that exist. */
export function lockfileHashes(root = REPO_ROOT): Record<string, string> {
  const paths = ["package-lock.json"];
  const runners = join(root, "runners");
  if (existsSync(runners)) {
    for (const entry of readdirSync(runners, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
      for (const name of LOCKFILE_NAMES) paths.push(`runners/${entry}/${name}`);
    }
  }
  const hashes: Record<string, string> = {};
  for (const path of paths) {
    const file = join(root, path);
    if (existsSync(file)) hashes[path] = createHash("sha256").update(readFileSync(file)).digest("hex");
  }
  return hashes;
}

/** The knobs set in an environment (empty values left out: they mean unset to the settings reader). */
export function knobsOf(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env)
      .filter((entry): entry is [string, string] => KNOB.test(entry[0]) && !HARNESS_SET.has(entry[0]) && typeof entry[1] === "string" && entry[1] !== "")
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/** NVIDIA driver version of the first GPU, or null without nvidia-smi. */
function gpuDriver(): string | null {
  return nvidiaQuerySync({ gpu: ["driver_version"] })?.[0]?.[0] || null;
}

/**
 * What produced a run, collected once in the harness's main process (where process.argv is the
 * command the user typed) and handed to the bench workers in the plan.
 */
export function collectProvenance(argv: string[] = process.argv, env: NodeJS.ProcessEnv = processEnvironment()): Provenance {
  const { commit, dirty } = harnessCommit(env);
  return {
    harness: { version: PACKAGE_VERSION, commit, dirty },
    lockfiles: lockfileHashes(),
    command: [...argv],
    env: knobsOf(env),
    node: process.version,
    gpu_driver: gpuDriver(),
  };
}
