import { describe, expect, test } from "vitest";
import { caseSecs, candidateShapes, planCase, requestSecs, resolveProfile, RunnerBudget, type RunnerRates } from "../harness/budget.ts";
import { etaLine, withElapsed } from "../harness/progress.ts";
import type { Budget, Profile } from "../harness/schema/prompts.ts";
import type { CaseRecord, ResultsFile } from "../harness/schema/results.ts";
import { budgetTrimNote } from "../report/warnings.ts";

// Round numbers so every expectation below can be worked out by hand: 10 tok/s prefill, 1 tok/s
// decode; prompts of 20, 100 and 500 tokens (2, 10 and 50 s of prefill).
const rates: RunnerRates = { prefillTps: 10, decodeTps: 1 };
const profile: Profile = { max_new_tokens: 32, warmup_iterations: 1, timed_iterations: 3, cooldown_secs: 0 };
const budget: Budget = { secs: 100, min_new_tokens: 8, min_timed_iterations: 2 };
const plan = (promptTokens: number, laterPromptTokens: number[], remainingSecs: number) =>
  planCase({ promptId: "p", promptTokens, laterPromptTokens, remainingSecs, rates, runnerWarm: true, profile: { ...profile, budget }, budget });

describe("budget estimates", () => {
  test("a request is its prefill plus N − 1 decode steps; a case adds warm-ups and the agreement score", () => {
    expect(requestSecs(20, 8, rates)).toBe(2 + 7);
    // 1 warm-up of 8 tokens (9 s) + 3 timed of 32 (33 s each) + score over 20 + 32 tokens (5.2 s).
    expect(caseSecs(20, { warmupIterations: 1, warmupNewTokens: 8, timedIterations: 3, maxNewTokens: 32 }, rates)).toBeCloseTo(9 + 99 + 5.2, 9);
  });

  test("candidate shapes grow timed runs, then warm-ups, then tokens, each costing no less than the one before", () => {
    const shapes = candidateShapes(profile, budget, true);
    expect(shapes[0]).toEqual({ warmupIterations: 0, warmupNewTokens: 8, timedIterations: 2, maxNewTokens: 8 });
    expect(shapes[1]).toEqual({ warmupIterations: 0, warmupNewTokens: 8, timedIterations: 3, maxNewTokens: 8 });
    expect(shapes[2]).toEqual({ warmupIterations: 1, warmupNewTokens: 8, timedIterations: 3, maxNewTokens: 8 });
    expect(shapes.at(-1)).toEqual({ warmupIterations: 1, warmupNewTokens: 8, timedIterations: 3, maxNewTokens: 32 });
    expect(shapes).toHaveLength(3 + 24);
    const costs = shapes.map((s) => caseSecs(100, s, rates));
    for (let i = 1; i < costs.length; i++) expect(costs[i]).toBeGreaterThanOrEqual(costs[i - 1]);
    // A cold runner keeps its one warm-up; minimums never exceed the profile's own counts.
    expect(candidateShapes(profile, budget, false)[0].warmupIterations).toBe(1);
    expect(candidateShapes({ ...profile, max_new_tokens: 4, timed_iterations: 1 }, budget, true)[0]).toEqual({ warmupIterations: 0, warmupNewTokens: 4, timedIterations: 1, maxNewTokens: 4 });
  });
});

describe("planCase", () => {
  test("the profile's shape when the whole budget is plenty", () => {
    const p = plan(20, [100, 500], 1000);
    expect(p).toEqual({ promptId: "p", shape: { warmupIterations: 1, warmupNewTokens: 8, timedIterations: 3, maxNewTokens: 32 }, trimmed: false, estimatedSecs: expect.closeTo(113.2, 9) });
  });

  test("a tight budget trims the case, reserving the smallest shape of later cases that can still fit", () => {
    // Smallest shapes: 20 tokens 20.8 s, 100 tokens 44.8 s (reserved), 500 tokens 164.8 s (cannot fit: not
    // reserved). Slack 100 − 20.8 − 44.8 = 34.4 s, shared in proportion to what each full shape costs more
    // (92.4 and 108.4 s): this case may spend 20.8 + 34.4 × 92.4 / 200.8 = 36.6 s, and 3 timed runs of 8
    // tokens without a warm-up (29.8 s) is the largest shape within it (adding the warm-up makes 38.8 s).
    const p = plan(20, [100, 500], 100);
    expect(p).toEqual({ promptId: "p", shape: { warmupIterations: 0, warmupNewTokens: 8, timedIterations: 3, maxNewTokens: 8 }, trimmed: true, estimatedSecs: expect.closeTo(29.8, 9) });
  });

  test("a runner's first case runs its smallest shape even over the budget: every runner is measured", () => {
    const first = planCase({ promptId: "p", promptTokens: 500, laterPromptTokens: [], remainingSecs: 100, rates, runnerWarm: true, mustRun: true, profile, budget });
    expect(first).toEqual({ promptId: "p", shape: { warmupIterations: 0, warmupNewTokens: 8, timedIterations: 2, maxNewTokens: 8 }, trimmed: true, estimatedSecs: expect.closeTo(164.8, 9) });
  });

  test("a case whose smallest shape does not fit is skipped, with the numbers that decided it", () => {
    const p = plan(500, [], 100);
    expect(p).toMatchObject({ promptId: "p", estimatedSecs: expect.closeTo(164.8, 9) });
    expect("skipped" in p && p.skipped).toBe(
      "its smallest case (2 timed runs of 8 new tokens) would take ≈2 min 45 s at this runner's 10.0 tok/s prefill and 1.00 tok/s decode, over the 1 min 40 s left of its 1 min 40 s budget",
    );
  });
});

describe("RunnerBudget", () => {
  test("counts request time, keeps the latest rates and plans the next case from what is left", () => {
    const b = new RunnerBudget(budget, profile, [{ id: "short", tokens: 20 }, { id: "medium", tokens: 100 }, { id: "long", tokens: 500 }]);
    expect(() => b.plan("short", true)).toThrow(/no rates yet/);
    expect(b.calibrationShape()).toEqual({ warmupIterations: 1, warmupNewTokens: 8, timedIterations: 1, maxNewTokens: 8 });
    b.record(9, rates);
    b.record(1, null); // a score request: time counts, rates stay
    expect(b.remainingSecs).toBe(90);
    expect(b.rates).toEqual(rates);
    // The first case planned runs (its smallest shape at least); later ones may be skipped.
    expect(b.plan("long", true)).toHaveProperty("trimmed", true);
    b.record(200, null);
    expect(b.remainingSecs).toBe(-110);
    expect(b.plan("long", true)).toHaveProperty("skipped");
    expect(() => b.plan("nope", true)).toThrow(/unknown prompt "nope"/);
  });
});

describe("resolveProfile", () => {
  const quick = { ...profile, budget };
  test("keeps the profile's budget, drops it for hand-set counts or BENCH_BUDGET_SECS=0, and sets its seconds", () => {
    expect(resolveProfile(quick, {}, undefined)).toEqual(quick);
    expect(resolveProfile(quick, { timed_iterations: 5 }, undefined)).toEqual({ ...profile, timed_iterations: 5 });
    expect(resolveProfile(quick, {}, 0)).toEqual(profile);
    expect(resolveProfile(quick, { timed_iterations: 5 }, 30)).toEqual({ ...profile, timed_iterations: 5, budget: { ...budget, secs: 30 } });
    // The full profile has none; BENCH_BUDGET_SECS gives it one with the default minimums.
    expect(resolveProfile(profile, {}, undefined)).toEqual(profile);
    expect(resolveProfile(profile, {}, 120)).toEqual({ ...profile, budget: { secs: 120, min_new_tokens: 8, min_timed_iterations: 2 } });
  });
});

describe("progress", () => {
  test("elapsed time prefix", () => {
    expect(withElapsed("x", 1_000_000 + 102_400, 1_000_000)).toBe("[1:42] x");
    expect(withElapsed("x", 5_000, 1_000)).toBe("[0:04] x");
  });

  test("ETA names the frameworks still to come and their budgets", () => {
    const frameworks = [
      { name: "burn-cpu", available: true },
      { name: "torch", available: false },
      { name: "mlx-lm", available: true },
    ];
    expect(etaLine({ frameworks, profile: { ...profile, budget: { ...budget, secs: 60 } } }, "burn-cpu", "short", 45)).toBe(
      "[burn-cpu short] ETA: burn-cpu ≈ 45 s more; run ≈ 1 min 45 s more plus start-ups (mlx-lm: ≤ 1 min of requests each)",
    );
    expect(etaLine({ frameworks, profile }, "burn-cpu", "short", 45)).toBe("[burn-cpu short] ETA: burn-cpu ≈ 45 s more, then mlx-lm (timed once warm)");
    expect(etaLine({ frameworks, profile }, "mlx-lm", "long", 3)).toBe("[mlx-lm long] ETA: mlx-lm ≈ 3 s more, then the report");
  });
});

describe("report note", () => {
  const results = (cases: CaseRecord[], notes: string[]) =>
    ({ profile: "quick", budget: { secs: 60, min_new_tokens: 8, min_timed_iterations: 2 }, timed_iterations: 3, max_new_tokens: 32, cases, ready: { notes } }) as unknown as ResultsFile;
  const ran = (prompt_id: string, timed: number, tokens: number, trimmed: boolean): CaseRecord => ({
    prompt_id, warmup_iterations: 1, warmup_new_tokens: 8, timed_iterations: timed, max_new_tokens: tokens, trimmed, skipped: null, estimated_secs: 10,
  });

  test("names every trim and skip, with the runner's notes on why it is slow", () => {
    const blas = "mlx-cpu links the BLAS bundled in its wheel (netlib's reference BLAS, unoptimised and single-threaded)";
    const note = budgetTrimNote(results([ran("short", 2, 8, true), { ...ran("long", 0, 0, true), skipped: "too slow" }], ["async_eval pipelining", blas]));
    expect(note).toBe(
      "trimmed to fit the quick profile's 60 s of requests per runner (profile: 3 timed runs of 32 new tokens): short 2 timed runs of 8 new tokens; long not measured (too slow). " +
        `BENCH_PROFILE=full or BENCH_BUDGET_SECS=0 runs every case in full. Why it is slow here: ${blas}.`,
    );
    expect(budgetTrimNote(results([ran("short", 3, 32, false)], [blas]))).toBeNull();
  });
});
