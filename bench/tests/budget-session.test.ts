// The time budget inside a run, with the FAKE runner (bench/tests/fake-runner.mjs) standing in for
// a framework: the calibration warm-up, cases shaped from what is left, the counts in the results
// file. (The budget's arithmetic is tested against hand-worked numbers in budget.test.ts.)
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import type { BenchPlan } from "../harness/plan.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { FrameworkSession } from "../harness/session.ts";
import { tinyPlan } from "./tiny-plan.ts";

const FAKE = join(import.meta.dirname, "fake-runner.mjs");

function budgetPlan(runDir: string, budgetSecs: number): BenchPlan {
  return tinyPlan(runDir, {
    profile: { max_new_tokens: 32, warmup_iterations: 1, timed_iterations: 3, cooldown_secs: 0, budget: { secs: budgetSecs, min_new_tokens: 8, min_timed_iterations: 2 } },
    requestTimeoutMs: 5_000,
    startupTimeoutMs: 5_000,
    frameworks: [{ name: "fake", available: true, reason: "fake" }],
    prompts: [
      { id: "short", text: "x", promptTokenIds: [1, 2, 3] },
      { id: "long", text: "y", promptTokenIds: Array.from({ length: 50 }, (_, i) => i + 1) },
    ],
  });
}

async function runCases(plan: BenchPlan) {
  const session = new FrameworkSession(plan, "fake", async () => ({ framework: "fake", command: process.execPath, args: [FAKE, "--mode=ok"] }));
  const plans = [];
  try {
    for (const prompt of plan.prompts) {
      const casePlan = await session.planCase(prompt);
      plans.push(casePlan);
      if (!("shape" in casePlan)) continue;
      const { shape } = casePlan;
      for (let i = casePlan.firstRequest; i < shape.warmupIterations + shape.timedIterations; i++) await session.measure(prompt, i, shape);
    }
  } finally {
    await session.close();
  }
  return { plans, results: ResultsFile.parse(JSON.parse(readFileSync(join(plan.runDir, "fake_results.json"), "utf8"))) };
}

test("a budget that is plenty: one 8-token calibration warm-up, then the profile's counts", async () => {
  const { results } = await runCases(budgetPlan(mkdtempSync(join(tmpdir(), "qwen3-bench-budget-")), 600));
  expect(results.budget).toEqual({ secs: 600, min_new_tokens: 8, min_timed_iterations: 2 });
  expect(results.cases.map((c) => [c.prompt_id, c.warmup_iterations, c.warmup_new_tokens, c.timed_iterations, c.max_new_tokens, c.trimmed, c.skipped])).toEqual([
    ["short", 1, 8, 3, 32, false, null],
    ["long", 1, 8, 3, 32, false, null],
  ]);
  expect(results.warmup_runs.map((r) => [r.prompt_id, r.tokens_generated])).toEqual([["short", 8], ["long", 8]]);
  expect(results.runs.map((r) => r.tokens_generated)).toEqual([32, 32, 32, 32, 32, 32]);
});

test("a budget spent by the calibration: the first case still runs its smallest shape, the next is skipped and says why", async () => {
  const { plans, results } = await runCases(budgetPlan(mkdtempSync(join(tmpdir(), "qwen3-bench-budget-")), 0.000001));
  expect(results.cases.map((c) => [c.prompt_id, c.timed_iterations, c.max_new_tokens, c.trimmed])).toEqual([
    ["short", 2, 8, true],
    ["long", 0, 0, true],
  ]);
  expect(results.cases[1].skipped).toMatch(/^its smallest case \(2 timed runs of 8 new tokens\) would take ≈\d+ s at this runner's .* over the 0 s left of its 0 s budget$/);
  expect(plans[1]).toHaveProperty("skipped");
  expect(results.runs.map((r) => [r.prompt_id, r.tokens_generated])).toEqual([["short", 8], ["short", 8]]);
});
