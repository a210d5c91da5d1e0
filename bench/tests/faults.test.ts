// The harness's own fault handling, exercised with a FAKE runner (bench/tests/fake-runner.mjs):
// a runner that crashes, hangs, dies at start-up or breaks the protocol fails only its own case,
// and results already written stay.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { BenchPlan } from "../harness/plan.ts";
import { RunnerError, RunnerProcess, type LaunchSpec } from "../harness/runner-process.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { FrameworkSession } from "../harness/session.ts";
import { tinyPlan } from "./tiny-plan.ts";

const FAKE = join(import.meta.dirname, "fake-runner.mjs");
const fake = (mode: string): LaunchSpec => ({ framework: "fake", command: process.execPath, args: [FAKE, `--mode=${mode}`] });

function fakePlan(runDir: string): BenchPlan {
  return tinyPlan(runDir, {
    profile: { max_new_tokens: 4, warmup_iterations: 0, timed_iterations: 3, cooldown_secs: 0 },
    requestTimeoutMs: 2_000,
    startupTimeoutMs: 5_000,
    frameworks: [{ name: "fake", available: true, reason: "fake" }],
    prompts: [{ id: "p", text: "x", promptTokenIds: [1, 2, 3] }],
  });
}

describe("runner process faults", () => {
  test("a fatal line at start-up becomes one error with the runner's message", async () => {
    await expect(RunnerProcess.start(fake("fatal"), 5_000)).rejects.toThrow(/model\.safetensors: model\.norm\.weight: missing tensor/);
  });

  test("an exit before ready reports the exit code and the stderr tail", async () => {
    const error = await RunnerProcess.start(fake("exit-before-ready"), 5_000).catch((e) => e);
    expect(error).toBeInstanceOf(RunnerError);
    expect(error.message).toMatch(/exited with code 3 before ready/);
    expect(error.message).toMatch(/dying before ready/);
  });

  test("stdout that is not protocol JSON is a protocol error", async () => {
    await expect(RunnerProcess.start(fake("garbage"), 5_000)).rejects.toMatchObject({ kind: "protocol" });
  });

  test("a hung request times out and the runner is killed", async () => {
    const runner = await RunnerProcess.start(fake("hang-after=0"), 5_000);
    await expect(runner.generate({ prompt_token_ids: [1], max_new_tokens: 2, ignore_eos: true }, 300)).rejects.toMatchObject({ kind: "timeout" });
    await expect.poll(() => runner.hasExited).toBe(true);
  });
});

describe("a crash mid-run", () => {
  test("keeps the runs already written, records the error, and the next case gets a fresh runner", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-faults-"));
    const session = new FrameworkSession(fakePlan(runDir), "fake", async () => fake("crash-after=2"));
    const prompt = fakePlan(runDir).prompts[0];
    await session.measure(prompt, 0);
    await session.measure(prompt, 1);
    await expect(session.measure(prompt, 2)).rejects.toMatchObject({ kind: "exited" });

    const written = ResultsFile.parse(JSON.parse(readFileSync(join(runDir, "fake_results.json"), "utf8")));
    expect(written.runs).toHaveLength(2);
    expect(written.errors).toHaveLength(1);
    expect(written.errors[0]).toMatchObject({ prompt_id: "p", iteration: 2, kind: "exited" });
    expect(written.errors[0].message).toMatch(/simulated crash/);

    // The next case restarts the runner and goes on.
    const run = await session.measure(prompt, 0);
    expect(run.tokens_generated).toBe(4);
    await session.close();
  });
});

describe("a launch that fails before any process starts", () => {
  test("(a GGUF or quantized copy that could not be made) is recorded as the label's start-up error, as a runner's own failure is", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-faults-"));
    const session = new FrameworkSession(fakePlan(runDir), "fake", async () => {
      throw new Error("ENOENT: no such file or directory, open 'f16.gguf.partial-1'");
    });
    await expect(session.measure(fakePlan(runDir).prompts[0], 0)).rejects.toThrow(/ENOENT/);
    const file = join(runDir, "fake_error.json");
    expect(existsSync(file)).toBe(true);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ framework: "fake", kind: "startup", message: expect.stringMatching(/partial-1/) });
  });
});
