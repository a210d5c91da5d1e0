// BENCH_PROFILER: the runners' own profiling switches, set by the harness for the runners of a run
// (what the removed scripts/gpu-probe.py's variant lines did by hand). Each profiler applies to the runners of
// one kind; its files go to <run folder>/profiles/, with every profiled runner's stderr beside them
// (step times and operation counts are printed there). A profiled run's timings include the
// profiler's cost: the report says so.
import { join } from "node:path";
import { labelFileStem } from "./framework-label.ts";

/** A profiler: which runners it applies to (their `ready.framework`), the environment or command-line flags it sets, and the Cargo feature a Burn build needs for it. */
interface ProfilerSpec {
  description: string;
  /** The runners it applies to, by their `ready.framework`. */
  readyFrameworks: string[];
  /** Environment for one runner; `file(suffix)` is a path in the run's profiles folder. */
  env?(file: (suffix: string) => string): Record<string, string>;
  /** Command-line flags for one runner (the Burn runner takes its diagnostics as flags only). */
  args?(file: (suffix: string) => string): string[];
  burnFeature?: string;
}

export const PROFILERS: Record<string, ProfilerSpec> = {
  torch: {
    description: "torch.profiler from the second request on: GPU kernels, GPU and wall time per token, operator table (QWEN3_TORCH_PROFILE)",
    readyFrameworks: ["torch", "torch-compile", "torch-fast"],
    env: (file) => ({ QWEN3_TORCH_PROFILE: file("torch-profile.txt") }),
  },
  "burn-steps": {
    description: "Burn: host time issuing each decode step and waiting for its token, per request, on stderr (--step-times)",
    readyFrameworks: ["burn"],
    args: () => ["--step-times"],
  },
  "burn-host": {
    description: "Burn: host stacks sampled from the second request on, collapsed (--host-profile; builds the runner with `pprof`; read with scripts/host-profile-summary.py)",
    readyFrameworks: ["burn"],
    args: (file) => ["--host-profile", file("host-stacks.txt"), "--step-times"],
    burnFeature: "pprof",
  },
  "burn-kernels": {
    description: "Burn GPU backends: every kernel launch with its duration, through CubeCL's profiling logger (syncs after each kernel: timings of a profiled run are not speeds)",
    readyFrameworks: ["burn"],
    env: (file) => ({ CUBECL_DEBUG_LOG: file("cubecl-kernels.log"), CUBECL_DEBUG_OPTION: "profile" }),
  },
  "burn-ops": {
    description: "Burn: tensor operations and fused blocks per decode step, on stderr (--op-count; builds the runner with `op-count`)",
    readyFrameworks: ["burn"],
    args: () => ["--op-count"],
    burnFeature: "op-count",
  },
};

/** Parses BENCH_PROFILER (comma list); an unknown name is one error listing the known ones. */
export function parseProfilers(text: string | undefined): string[] {
  const names = (text ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!PROFILERS[name]) {
      const known = Object.entries(PROFILERS).map(([n, p]) => `  ${n}: ${p.description}`).join("\n");
      throw new Error(`BENCH_PROFILER: unknown profiler ${JSON.stringify(name)}; known:\n${known}`);
    }
  }
  return [...new Set(names)];
}

/** The Cargo features the Burn runner needs for these profilers. */
export const profilerBurnFeatures = (profilers: string[]): string[] => profilers.flatMap((n) => PROFILERS[n].burnFeature ?? []);

/** Folder of a run's profiler output. */
export const profilesDir = (runDir: string): string => join(runDir, "profiles");

/** What the profilers that apply to one runner add to its launch. */
export interface ProfilerLaunch {
  env: Record<string, string>;
  /** Appended to the runner's arguments (a switch two profilers set comes twice: the runner takes that). */
  args: string[];
  /** Where the runner's stderr is copied. */
  stderrFile: string;
}

/**
 * The environment and flags a runner gets from the profilers that apply to it (by its framework's
 * `ready.framework`), and the file its stderr is copied to; null when none applies.
 */
export function profilerLaunch(profilers: string[], readyFramework: string, label: string, runDir: string): ProfilerLaunch | null {
  const applying = profilers.filter((n) => PROFILERS[n].readyFrameworks.includes(readyFramework)).map((n) => PROFILERS[n]);
  if (!applying.length) return null;
  const file = (suffix: string) => join(profilesDir(runDir), `${labelFileStem(label)}.${suffix}`);
  return {
    env: Object.assign({}, ...applying.map((p) => p.env?.(file) ?? {})),
    args: applying.flatMap((p) => p.args?.(file) ?? []),
    stderrFile: file("stderr.log"),
  };
}
