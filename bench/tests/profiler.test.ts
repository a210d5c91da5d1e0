import { describe, expect, test } from "vitest";
import { parseProfilers, profilerBurnFeatures, profilerLaunch } from "../harness/profiler.ts";

describe("BENCH_PROFILER", () => {
  test("names profilers; an unknown one is one error listing the known", () => {
    expect(parseProfilers(undefined)).toEqual([]);
    expect(parseProfilers(" torch, burn-host ,torch")).toEqual(["torch", "burn-host"]);
    expect(() => parseProfilers("torch,nsys")).toThrow(/^BENCH_PROFILER: unknown profiler "nsys"; known:\n  torch: .*\n  burn-steps: /);
    expect(profilerBurnFeatures(["torch", "burn-host", "burn-ops"])).toEqual(["pprof", "op-count"]);
  });

  test("each runner gets the switches of its kind, with files in the run's profiles folder", () => {
    expect(profilerLaunch(["torch", "burn-host"], "torch", "torch-compile", "/r")).toEqual({
      env: { QWEN3_TORCH_PROFILE: "/r/profiles/torch-compile.torch-profile.txt" },
      stderrFile: "/r/profiles/torch-compile.stderr.log",
    });
    expect(profilerLaunch(["burn-host", "burn-ops"], "burn", "burn-cuda[decode-graph=off]", "/r")).toEqual({
      env: { QWEN3_BURN_PPROF: "/r/profiles/burn-cuda.decode-graph=off.host-stacks.txt", QWEN3_BURN_STEP_TIMES: "1", QWEN3_BURN_OP_COUNT: "1" },
      stderrFile: "/r/profiles/burn-cuda.decode-graph=off.stderr.log",
    });
    expect(profilerLaunch(["torch"], "mlx-lm", "mlx-lm", "/r")).toBeNull();
  });
});
