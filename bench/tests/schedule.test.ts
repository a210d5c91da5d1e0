// The request scheduler (interleaving) and crash accounting, exercised with the FAKE runner
// (bench/tests/fake-runner.mjs: harness fault handling only) and, where it is built, a real burn-cpu
// runner killed with SIGKILL at timed iteration 3 on the tiny f32 model.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test, vi } from "vitest";
import { FRAMEWORKS } from "../harness/frameworks.ts";
import { FIXTURES_DIR } from "../harness/paths.ts";
import type { BenchPlan } from "../harness/plan.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { resultsFileName } from "../harness/results-writer.ts";
import type { LaunchSpec } from "../harness/runner-process.ts";
import { CaseScheduler, runRotation } from "../harness/schedule.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { FrameworkSession } from "../harness/session.ts";
import { tinyPlan } from "./tiny-plan.ts";

const FAKE = join(import.meta.dirname, "fake-runner.mjs");
const fake = (mode: string): LaunchSpec => ({ framework: "fake", command: process.execPath, args: [FAKE, `--mode=${mode}`] });

function testPlan(runDir: string, counts: { warmup: number; timed: number; tokens: number }, modelDir = TEST_MODELS.tiny): BenchPlan {
  return tinyPlan(
    runDir,
    {
      profile: { max_new_tokens: counts.tokens, warmup_iterations: counts.warmup, timed_iterations: counts.timed, cooldown_secs: 0 },
      requestTimeoutMs: 30_000,
      startupTimeoutMs: 60_000,
      interleave: true,
    },
    modelDir,
  );
}

const readResults = (runDir: string, label: string) => ResultsFile.parse(JSON.parse(readFileSync(join(runDir, resultsFileName(label)), "utf8")));

/** Records the order in which sessions are asked for requests. */
function spyOrder(sessions: FrameworkSession[]): string[] {
  const order: string[] = [];
  for (const s of sessions) {
    const measure = s.measure.bind(s);
    vi.spyOn(s, "measure").mockImplementation(async (prompt, iteration, shape) => {
      order.push(`${s.name}:${iteration}`);
      return measure(prompt, iteration, shape);
    });
  }
  return order;
}

describe("interleaving", () => {
  test("rotates the frameworks of a prompt request by request, warm-ups included", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-schedule-"));
    const plan = testPlan(runDir, { warmup: 1, timed: 3, tokens: 4 });
    const prompt = { id: "p", text: "x", promptTokenIds: [1, 2, 3] };
    const a = new FrameworkSession(plan, "fake-a", async () => ({ ...fake("ok"), framework: "fake-a" }));
    const b = new FrameworkSession(plan, "fake-b", async () => ({ ...fake("ok"), framework: "fake-b" }));
    const order = spyOrder([a, b]);
    const outcomes = await runRotation([a, b], prompt);
    expect(order).toEqual(["fake-a:0", "fake-b:0", "fake-a:1", "fake-b:1", "fake-a:2", "fake-b:2", "fake-a:3", "fake-b:3"]);
    for (const o of outcomes) {
      expect(o.errors).toEqual([]);
      expect(o.warmupRuns).toHaveLength(1);
      expect(o.runs.map((r) => r.iteration)).toEqual([0, 1, 2]);
    }
    await Promise.all([a.close(), b.close()]);
  });

  test("the scheduler measures a prompt once for all its cases when interleaving, per case when not", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-schedule-"));
    const plan = testPlan(runDir, { warmup: 0, timed: 2, tokens: 3 });
    const prompt = { id: "p", text: "x", promptTokenIds: [1, 2, 3] };
    for (const interleave of [true, false]) {
      const a = new FrameworkSession(plan, `a-${interleave}`, async () => fake("ok"));
      const b = new FrameworkSession(plan, `b-${interleave}`, async () => fake("ok"));
      const order = spyOrder([a, b]);
      const scheduler = new CaseScheduler(new Map([[a.name, a], [b.name, b]]), interleave);
      const first = await scheduler.outcome(a.name, prompt);
      expect(order.length).toBe(interleave ? 4 : 2);
      const second = await scheduler.outcome(b.name, prompt);
      expect(order.length).toBe(4);
      expect([first.runs.length, second.runs.length]).toEqual([2, 2]);
      await Promise.all([a.close(), b.close()]);
    }
  });
});

test("the case timeout: every request at its timeout, the re-warm after a restart and two starts; interleaved, every framework's case", () => {
  const base = testPlan(mkdtempSync(join(tmpdir(), "qwen3-bench-timeout-")), { warmup: 1, timed: 3, tokens: 4 });
  const plan = { ...base, requestTimeoutMs: 1_000, startupTimeoutMs: 10_000 };
  const sessions = new Map(["a", "b", "c"].map((name) => [name, new FrameworkSession(plan, name, async () => fake("ok"))]));
  // Requests: 1 warm-up, 1 repeated after a restart, 3 timed, a budget's calibration and the agreement score: 7 s; two starts: 20 s.
  expect(new CaseScheduler(sessions, false).caseTimeoutMs).toBe(27_000);
  expect(new CaseScheduler(sessions, true).caseTimeoutMs).toBe(3 * 27_000);
});

describe("cool-down and runner processes", () => {
  test("rotating, the cool-down comes once per round, not before each framework's request", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-schedule-"));
    const base = testPlan(runDir, { warmup: 0, timed: 3, tokens: 3 });
    const plan = { ...base, profile: { ...base.profile, cooldown_secs: 0.5 } };
    const prompt = { id: "p", text: "x", promptTokenIds: [1, 2, 3] };
    const a = new FrameworkSession(plan, "fake-a", async () => ({ ...fake("ok"), framework: "fake-a" }));
    const b = new FrameworkSession(plan, "fake-b", async () => ({ ...fake("ok"), framework: "fake-b" }));
    const [ra, rb] = (await runRotation([a, b], prompt)).map((o) => o.runs.map((r) => Date.parse(r.started_at)));
    await Promise.all([a.close(), b.close()]);
    for (let i = 1; i < 3; i++) {
      // b's request follows a's in the same round at once; the next round waits the cool-down.
      expect(rb[i] - ra[i], `round ${i}: a → b`).toBeLessThan(500);
      expect(ra[i] - rb[i - 1], `round ${i - 1} → ${i}`).toBeGreaterThanOrEqual(490);
    }
  });

  test("BENCH_PARALLEL_START: the rotation's runners start at once before any request; one that cannot start fails its case only", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-parallel-"));
    const plan = testPlan(runDir, { warmup: 1, timed: 2, tokens: 3 });
    const prompt = { id: "p", text: "x", promptTokenIds: [1, 2, 3] };
    const sessions = ["ok", "fatal", "ok"].map((mode, i) => new FrameworkSession(plan, `fake-${i}`, async () => ({ ...fake(mode), framework: `fake-${i}` })));
    const starts: string[] = [];
    for (const s of sessions) {
      const ensure = s.ensureRunner.bind(s);
      vi.spyOn(s, "ensureRunner").mockImplementation(() => (starts.push(s.name), ensure()));
    }
    const order = spyOrder(sessions);
    const outcomes = await runRotation(sessions, prompt, { parallelStart: true });
    await Promise.all(sessions.map((s) => s.close()));
    // All three asked to start before the first request was sent.
    expect(starts.slice(0, 3)).toEqual(["fake-0", "fake-1", "fake-2"]);
    expect(order[0]).toBe("fake-0:0");
    expect(outcomes.map((o) => [o.runs.length, o.errors.length])).toEqual([[2, 0], [0, 1], [2, 0]]);
    expect(outcomes[1].errors[0].message).toMatch(/missing tensor/);
  });

  test("BENCH_RUNS_PER_PROCESS=1: each timed run in a fresh process, after its own warm-up, none of it a restart", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-rpp-"));
    const plan = { ...testPlan(runDir, { warmup: 1, timed: 3, tokens: 4 }), runsPerProcess: 1 };
    const prompt = { id: "p", text: "x", promptTokenIds: [1, 2, 3] };
    const session = new FrameworkSession(plan, "fake", async () => fake("ok"));
    const [outcome] = await runRotation([session], prompt);
    await session.close();
    expect(outcome.errors).toEqual([]);
    const written = readResults(runDir, "fake");
    expect(written.runs_per_process).toBe(1);
    expect(written.runs.map((r) => r.process_index)).toEqual([0, 1, 2]);
    // The fake's first request after a start takes 10 ms per token: every process's first was a warm-up.
    expect(written.warmup_runs.map((r) => [r.process_index, r.ttft_secs * 1000])).toEqual([[0, 10], [1, 10], [2, 10]]);
    for (const run of written.runs) expect(run.ttft_secs * 1000).toBeCloseTo(1, 6);
    expect(written.restarts).toEqual([]);
  });
});

describe("crash accounting", () => {
  test("a runner that dies mid-case is restarted, recorded, and warmed up again before timed requests resume", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-restart-"));
    const plan = testPlan(runDir, { warmup: 1, timed: 4, tokens: 4 });
    const prompt = { id: "p", text: "x", promptTokenIds: [1, 2, 3] };
    // Requests: warm-up, timed 0, timed 1, then the process dies serving timed 2.
    const session = new FrameworkSession(plan, "fake", async () => fake("crash-after=3"));
    const [outcome] = await runRotation([session], prompt);
    await session.close();

    expect(outcome.errors).toHaveLength(1);
    expect(outcome.errors[0].message).toMatch(/simulated crash/);
    expect(outcome.runs.map((r) => r.iteration)).toEqual([0, 1, 3]);
    // The fake's first request after a start takes 10 ms per token: no timed run may be one.
    for (const run of outcome.runs) expect(run.ttft_secs * 1000, `timed run ${run.iteration} TTFT`).toBeCloseTo(1, 6);
    const written = readResults(runDir, "fake");
    // The warm-up ran twice: at the start and again after the restart (both a fresh process's first).
    expect(written.warmup_runs.map((r) => r.ttft_secs * 1000)).toEqual([10, 10]);
    expect(written.restarts).toHaveLength(1);
    expect(written.restarts[0]).toMatchObject({ prompt_id: "p", iteration: 2, exit_code: 139, signal: null });
    expect(written.restarts[0].stderr_tail).toMatch(/simulated crash/);
    expect(written.runs).toHaveLength(3);
    expect(written.errors).toMatchObject([{ prompt_id: "p", iteration: 2, kind: "exited" }]);
  });

  test("a runner failing again in the same case ends that case", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-restart-"));
    const plan = testPlan(runDir, { warmup: 1, timed: 5, tokens: 4 });
    const prompt = { id: "p", text: "x", promptTokenIds: [1, 2, 3] };
    // Every process dies at its second request: the timed request after each start.
    const session = new FrameworkSession(plan, "fake", async () => fake("crash-after=1"));
    const [outcome] = await runRotation([session], prompt);
    await session.close();
    expect(outcome.errors).toHaveLength(2);
    expect(outcome.runs).toHaveLength(0);
    expect(readResults(runDir, "fake").restarts).toHaveLength(1);
  });
});

const burnCpu = FRAMEWORKS.find((f) => f.name === "burn-cpu")!;
const burnAvailable = (await burnCpu.probe()).available;

describe.runIf(burnAvailable)("crash accounting with a real runner (burn-cpu, tiny f32 model)", () => {
  test("SIGKILL at timed iteration 3: restart recorded, warm-up repeated, later timed runs not a fresh process's first", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-sigkill-"));
    const plan = testPlan(runDir, { warmup: 1, timed: 6, tokens: 16 });
    const fixture = JSON.parse(readFileSync(join(FIXTURES_DIR, "prompt_token_ids.json"), "utf8"));
    const prompt = { id: "short", text: "", promptTokenIds: fixture.prompts.short.prompt_token_ids as number[] };
    const session = new FrameworkSession(plan, "burn-cpu");
    const measure = session.measure.bind(session);
    let killedAt: Date | null = null;
    vi.spyOn(session, "measure").mockImplementation(async (p, iteration, shape) => {
      // Timed iteration 3 is request 1 + 3 (after the one warm-up).
      if (iteration === 4 && killedAt === null) {
        (await session.ensureRunner()).kill();
        killedAt = new Date();
      }
      return measure(p, iteration, shape);
    });
    const [outcome] = await runRotation([session], prompt);
    await session.close();

    expect(outcome.errors).toHaveLength(1);
    expect(outcome.runs.map((r) => r.iteration)).toEqual([0, 1, 2, 4, 5]);
    const written = readResults(runDir, "burn-cpu");
    expect(written.restarts).toHaveLength(1);
    const restart = written.restarts[0];
    expect(restart).toMatchObject({ prompt_id: "short", iteration: 3, exit_code: null, signal: "SIGKILL" });
    // After the restart: one repeated warm-up, sent before the next timed request.
    expect(written.warmup_runs).toHaveLength(2);
    const rewarm = written.warmup_runs[1];
    const firstTimedAfter = written.runs.find((r) => r.iteration === 4)!;
    expect(Date.parse(rewarm.started_at)).toBeGreaterThanOrEqual(Date.parse(restart.at));
    expect(Date.parse(firstTimedAfter.started_at)).toBeGreaterThanOrEqual(Date.parse(rewarm.started_at));
    // Same greedy tokens before and after the restart.
    expect(firstTimedAfter.token_ids).toEqual(written.runs[0].token_ids);
  }, 180_000);
});
