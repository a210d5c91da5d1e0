// The decode benchmark: one Vitest bench case per (framework, prompt). Each case times greedy
// generation in the framework's warm runner (runner-measured time, via overriddenDuration) and then
// asserts token agreement with the reference framework. Plan: bench/harness/global-setup.ts.
import { afterAll, describe, expect, inject, test } from "vitest";
import type { RunRecord } from "./harness/schema/results.ts";
import { FrameworkSession, type ReferenceTokens } from "./harness/session.ts";

const plan = inject("plan");
const references = new Map<string, ReferenceTokens>();
// Each request has its own timeout (the runner is killed past it); the case may take all of them,
// plus the agreement `score` request and a runner (re)start.
const { warmup_iterations, timed_iterations, max_new_tokens } = plan.profile;
const caseTimeoutMs = (warmup_iterations + timed_iterations + 1) * plan.requestTimeoutMs + plan.startupTimeoutMs;

for (const framework of plan.frameworks) {
  describe(framework.name, () => {
    if (!framework.available) {
      test.skip(`${framework.name}: unavailable (${framework.reason})`, () => {});
      return;
    }
    const session = new FrameworkSession(plan, framework.name);
    afterAll(() => session.close());

    for (const prompt of plan.prompts) {
      test(`${framework.name} › ${prompt.id} (${prompt.promptTokenIds.length} prompt tokens)`, async ({ bench }) => {
        const runs: RunRecord[] = [];
        let calls = 0;
        await bench(`${framework.name} ${prompt.id}`, async () => {
          const run = await session.measure(prompt, calls++);
          runs.push(run);
          return { overriddenDuration: run.total_time_secs * 1000 };
        }).run({
          iterations: plan.profile.timed_iterations,
          warmupIterations: plan.profile.warmup_iterations,
          time: 0,
          warmupTime: 0,
        });
        expect(calls, "generate requests (warm-up + timed)").toBe(warmup_iterations + timed_iterations);
        const last = runs[runs.length - 1];
        expect(last.tokens_generated).toBe(max_new_tokens);

        // Greedy decoding is deterministic: every iteration must produce the same tokens.
        for (const run of runs) expect(run.token_ids, `iteration ${run.iteration} tokens`).toEqual(last.token_ids);

        const reference = references.get(prompt.id);
        if (!reference) {
          references.set(prompt.id, { framework: framework.name, isConfiguredReference: framework.name === plan.reference, tokens: last.token_ids });
          return;
        }
        const agreement = await session.agreement(prompt, last.token_ids, reference);
        expect(
          agreement.passed,
          `${framework.name} vs ${agreement.reference} on "${prompt.id}": first divergence ${agreement.first_divergence}, ` +
            `match ${(agreement.match_share * 100).toFixed(1)}%, teacher-forced top-1 ${((agreement.top1_agreement ?? 0) * 100).toFixed(1)}%`,
        ).toBe(true);
      }, caseTimeoutMs);
    }
  });
}

// BENCH_LANES: the lanes ran as child runs during the global setup (bench/harness/lanes.ts); each is one case here.
for (const lane of plan.lanes ?? []) {
  test(`lane gpu${lane.index} (${lane.frameworks.join(", ")})`, () => {
    expect(lane.resultsDir, `lane gpu${lane.index} wrote no results: see ${lane.log}`).not.toBeNull();
    expect(lane.exitCode, `lane gpu${lane.index} had failing cases: see ${lane.log}`).toBe(0);
  });
}
