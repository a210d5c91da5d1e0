import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseProfilers, profilerBurnFeatures, profilerLaunch } from "../harness/profiler.ts";
import { FrameworkSession } from "../harness/session.ts";
import { burnBinary } from "../harness/setup/burn-build.ts";
import { tinyPlan } from "./tiny-plan.ts";

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
      args: [],
      stderrFile: "/r/profiles/torch-compile.stderr.log",
    });
    // The Burn runner takes its diagnostics as flags, never from the environment.
    expect(profilerLaunch(["burn-host", "burn-ops"], "burn", "burn-cuda[decode-graph=off]", "/r")).toEqual({
      env: {},
      args: ["--host-profile", "/r/profiles/burn-cuda.decode-graph=off.host-stacks.txt", "--step-times", "--op-count"],
      stderrFile: "/r/profiles/burn-cuda.decode-graph=off.stderr.log",
    });
    expect(profilerLaunch(["torch"], "mlx-lm", "mlx-lm", "/r")).toBeNull();
  });
});

// The probe's job through the harness: a Burn runner started by a session with BENCH_PROFILER's
// burn-steps gets --step-times, and its per-request host split lands in profiles/.
const burnRequired = (process.env.BENCH_REQUIRE ?? "").split(",").includes("burn-cpu");
describe.skipIf(!existsSync(burnBinary()) && !burnRequired)("BENCH_PROFILER on a real runner", () => {
  test("burn-steps: burn-cpu's step times go to profiles/burn-cpu.stderr.log", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-profiler-"));
    const plan = tinyPlan(runDir, {
      profile: { max_new_tokens: 8, warmup_iterations: 0, timed_iterations: 2, cooldown_secs: 0 },
      profilers: ["burn-steps"],
      frameworks: [{ name: "burn-cpu", available: true, reason: "built" }],
      prompts: [{ id: "p", text: "x", promptTokenIds: [1, 2, 3] }],
    });

    const session = new FrameworkSession(plan, "burn-cpu");
    try {
      await session.measure(plan.prompts[0], 0);
      await session.measure(plan.prompts[0], 1);
    } finally {
      await session.close();
    }
    const log = readFileSync(join(runDir, "profiles", "burn-cpu.stderr.log"), "utf8");
    expect(log).toMatch(/8 tokens: build [0-9.]+ ms\/token, read [0-9.]+ ms\/token/);
    rmSync(runDir, { recursive: true, force: true });
  }, 300_000);
});
