// The decode benchmark: one Vitest bench case per (framework label, prompt). Each case reports the
// timed runs of greedy generation in the framework's warm runner (runner-measured time, via
// overriddenDuration) and then asserts token agreement with the reference framework. The requests
// are sent by bench/harness/schedule.ts: each case in its own block, or, with interleaving
// (BENCH_INTERLEAVE), every framework's case of a prompt rotated request by request, the first case
// of the prompt measuring them all. Plan: bench/harness/global-setup.ts.
import { afterAll, describe, expect, inject, test } from "vitest";
import { unquantizedLabels } from "./harness/agreement.ts";
import { labelDtype, withoutDtype } from "./harness/precision.ts";
import { RunnerError } from "./harness/runner-process.ts";
import { CaseScheduler, type CaseOutcome } from "./harness/schedule.ts";
import { FrameworkSession, type ReferenceTokens } from "./harness/session.ts";
import type { TokenizedPrompt } from "./harness/tokenize.ts";
import { resolveVariant } from "./harness/variants.ts";
import { vitestResultFiles } from "./harness/vitest-results.ts";

const plan = inject("plan");
const references = new Map<string, ReferenceTokens>();
/** Every label's greedy tokens per prompt: a quantized label is checked against its unquantized row (agreement.ts). */
const rows = new Map<string, ReferenceTokens>();
const rowKey = (label: string, promptId: string) => `${label}\0${promptId}`;
const available = plan.frameworks.filter((f) => f.available);
const sessions = new Map(available.map((f) => [f.name, new FrameworkSession(plan, f.name)]));
const scheduler = new CaseScheduler(sessions, plan.interleave, plan.parallelStart ?? false);

// A case may take every request at its own timeout and a runner restart; interleaved, the first case
// of a prompt runs every framework's (schedule.ts).
const { caseTimeoutMs } = scheduler;

/** The error a case fails with when requests failed: each failure, and what became of the runner. */
function failedRequests(outcome: CaseOutcome): Error {
  const lines = outcome.errors.map((e, i) => `  ${i + 1}. ${e.message}`);
  return new Error(
    `${outcome.framework} › ${outcome.promptId}: ${outcome.errors.length} request(s) failed; ${outcome.runs.length} timed run(s) kept ` +
      `(a dead runner is restarted and its warm-up repeated before timed requests resume; see restarts[] in its results file)\n${lines.join("\n")}`,
  );
}

function benchCase(framework: string, prompt: TokenizedPrompt): void {
  test(`${framework} › ${prompt.id} (${prompt.promptTokenIds.length} prompt tokens)`, async ({ bench, skip }) => {
    const outcome = await scheduler.outcome(framework, prompt);
    if (outcome.skipped !== null) return skip(`${framework} › ${prompt.id}: not measured within its time budget: ${outcome.skipped}`);
    // A label that asks for a dtype its runner refuses at start (bf16 on a device without it): skipped, with the runner's own reason.
    const refused = labelDtype(framework) !== null && outcome.runs.length === 0 ? outcome.errors.find((e) => e instanceof RunnerError && e.kind === "fatal") : undefined;
    if (refused) return skip(`${framework} › ${prompt.id}: the runner refused to start at ${labelDtype(framework)}: ${refused.message}`);
    const { runs } = outcome;
    if (runs.length) {
      // The runs were measured by the scheduler; the bench table gets their runner-measured times.
      let next = 0;
      const files = vitestResultFiles(framework, prompt.id);
      const measured = bench(`${framework} ${prompt.id}`, files.save ? { writeResult: files.save } : {}, async () => ({ overriddenDuration: runs[next++].total_time_secs * 1000 }));
      const replay = { iterations: runs.length, warmupIterations: 0, time: 0, warmupTime: 0 };
      // BENCH_VITEST_BASELINE: Vitest's own table puts the saved result of the same case beside this one.
      if (files.baseline) await bench.compare(measured, bench.from(`baseline ${framework} ${prompt.id}`, files.baseline), replay);
      else await measured.run(replay);
    }
    if (outcome.errors.length) throw failedRequests(outcome);
    const shape = outcome.shape!;
    expect(runs.length, "timed runs").toBe(shape.timedIterations);
    const last = runs[runs.length - 1];
    expect(last.tokens_generated).toBe(shape.maxNewTokens);

    // Greedy decoding is deterministic: every timed run must produce the same tokens.
    for (const run of runs) expect(run.token_ids, `iteration ${run.iteration} tokens`).toEqual(last.token_ids);

    const dtype = sessions.get(framework)!.requestedDtype;
    rows.set(rowKey(framework, prompt.id), { framework, isConfiguredReference: true, tokens: last.token_ids, dtype });
    // A quantized label (llama-cpp[type=q8_0]) is checked against its own framework's unquantized row when that ran first;
    // a row at another dtype than the reference's, by teacher-forced top-1 (agreement.ts, crossPrecisionMinTop1).
    const unquantized = unquantizedLabels(framework, resolveVariant(framework).framework.flags, dtype);
    const baseline = unquantized?.map((label) => rows.get(rowKey(label, prompt.id))).find((row) => row !== undefined);
    const reference = baseline ?? references.get(prompt.id);
    if (!reference) {
      references.set(prompt.id, { framework, isConfiguredReference: withoutDtype(framework) === plan.reference, tokens: last.token_ids, dtype });
      return;
    }
    const agreement = await sessions.get(framework)!.agreement(prompt, last.token_ids, reference, unquantized !== null);
    expect(
      agreement.passed,
      `${framework} vs ${agreement.reference} on "${prompt.id}": first divergence ${agreement.first_divergence}, ` +
        `match ${(agreement.match_share * 100).toFixed(1)}%, teacher-forced top-1 ${((agreement.top1_agreement ?? 0) * 100).toFixed(1)}%`,
    ).toBe(true);
  }, caseTimeoutMs);
}

for (const framework of plan.frameworks.filter((f) => !f.available)) {
  test.skip(`${framework.name}: unavailable (${framework.reason})`, () => {});
}

if (plan.interleave) {
  // Every runner stays warm until the last prompt: they all take part in each prompt's rotation.
  afterAll(() => Promise.all([...sessions.values()].map((s) => s.close())));
  for (const prompt of plan.prompts) {
    describe(prompt.id, () => {
      for (const framework of available) benchCase(framework.name, prompt);
    });
  }
} else {
  // One runner at a time: each is shut down after its last case, before the next one starts.
  for (const framework of available) {
    describe(framework.name, () => {
      afterAll(() => sessions.get(framework.name)!.close());
      for (const prompt of plan.prompts) benchCase(framework.name, prompt);
    });
  }
}

// BENCH_LANES: the lanes ran as child runs during the global setup (bench/harness/lanes.ts); each is one case here.
for (const lane of plan.lanes ?? []) {
  test(`lane gpu${lane.index} (${lane.frameworks.join(", ")})`, () => {
    expect(lane.resultsDir, `lane gpu${lane.index} wrote no results: see ${lane.log}`).not.toBeNull();
    expect(lane.exitCode, `lane gpu${lane.index} had failing cases: see ${lane.log}`).toBe(0);
  });
}
