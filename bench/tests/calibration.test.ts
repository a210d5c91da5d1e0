// The regression gates (`qwen3-bench compare` and `qwen3-bench ab`) on recorded real runs of
// identical code.
//
// fixtures/calibration/burn-cpu/run-01..10: 10 separate `vitest bench` runs (fixtures/calibration/
// record.sh, 2026-11-29 17:08-17:20 UTC, the 2-core KVM machine of this repository's sessions, AMD
// EPYC, idle but for the session's own light work), each measuring ONE Burn runner binary
// (runners/burn at b2da632, cpu feature) under two labels, burn-cpu@a and burn-cpu@b, requests
// interleaved a, b, a, b, on the quick profile's 32 new tokens with 20 timed runs per prompt, each
// timed run in a fresh runner process after its own warm-up (BENCH_RUNS_PER_PROCESS=1: the settings
// scripts/ab-burn.sh uses), tiny f32 model. Every (run, direction, prompt) is one comparison of
// identical code for `compare` (10 × 2 × 3 = 60); every (run, direction) one for `ab`, which pools
// the prompts (20).
//
// Why a process per timed run: two processes of one binary differ in speed on this host by up to
// 17 % in median step latency even with the machine idle (14 interleaved runs of one process a
// side, recorded the same day: the default 2 % band then flagged 24 of 84 identical pairs), and all
// runs of a process share its speed, so no resampling of one process's runs can see it. With each
// run its own process, the gate's block (the run) carries that variation and the interval covers it.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES_DIR } from "../harness/paths.ts";
import type { RunRecord } from "../harness/schema/results.ts";
import { ALL_PROMPTS, compareCases, DEFAULT_GATE, stepLatenciesMs, type Case, type SpeedComparison } from "../report/comparison.ts";
import { loadResults, type PromptSummary } from "../report/summary.ts";
import { gateVerdict } from "../stats/gate.ts";

const CALIBRATION_DIR = join(FIXTURES_DIR, "calibration", "burn-cpu");
const RUNS = 10;
const TIMED = 20;
const PROMPTS = ["short", "medium", "long"];

/** One recorded run's two labels: their prompt summaries (files validated by the schema). */
function recorded(): Array<{ run: string; a: PromptSummary[]; b: PromptSummary[] }> {
  return readdirSync(CALIBRATION_DIR).sort().map((run) => {
    const [a, b] = ["a", "b"].map((label) => loadResults([join(CALIBRATION_DIR, run, `burn-cpu@${label}_results.json`)]).summaries);
    return { run, a, b };
  });
}

/** Every candidate step × factor: a build that much slower on every step. */
const slowed = (runs: RunRecord[], factor: number): RunRecord[] =>
  runs.map((r) => ({ ...r, per_token_latencies_ms: r.per_token_latencies_ms.map((ms) => ms * factor), decode_tps: r.decode_tps / factor }));

/**
 * `compare`'s verdict on a row were every candidate step × factor. The median of scaled steps is the
 * scaled median, so each bootstrap resample of the ratio, drawn with the same seed, is the
 * unscaled one ÷ factor: the interval is computed once (10,000 resamples a prompt take a while).
 */
const verdictAt = (row: SpeedComparison, factor: number) => gateVerdict({ low: row.ratio.low / factor, high: row.ratio.high / factor }, DEFAULT_GATE.band);

/** The cases of one direction, every candidate step × factor: one label against the other per prompt. */
const cases = (baseline: PromptSummary[], candidate: PromptSummary[], factor = 1): Case[] =>
  PROMPTS.map((promptId) => ({
    promptId,
    baseline: { label: "burn-cpu", runs: baseline.find((s) => s.promptId === promptId)!.runs },
    candidate: { label: "burn-cpu", runs: slowed(candidate.find((s) => s.promptId === promptId)!.runs, factor) },
  }));

/** `ab`'s comparison pooled over the prompts, the row its gate reads. */
const abComparison = (baseline: PromptSummary[], candidate: PromptSummary[], factor: number): SpeedComparison =>
  compareCases(cases(baseline, candidate, factor), "paired").find((c) => c.promptId === ALL_PROMPTS)!;

describe("regression gates on recorded identical runs (burn-cpu, quick profile, one process per timed run)", () => {
  const runs = recorded();
  const directions = runs.flatMap(({ run, a, b }) => [{ name: `${run} a→b`, baseline: a, candidate: b }, { name: `${run} b→a`, baseline: b, candidate: a }]);
  // compare's rows for every direction: one per prompt, then the prompts pooled (@b compared as @a).
  const rows = directions.flatMap((d) => compareCases(cases(d.baseline, d.candidate), "independent"));
  const perPrompt = rows.filter((r) => r.promptId !== ALL_PROMPTS);
  const pooled = rows.filter((r) => r.promptId === ALL_PROMPTS);
  const flagged = (which: SpeedComparison[], factor: number) => which.filter((r) => verdictAt(r, factor) === "slower").length / which.length;
  const abFlags = (factor: number) => directions.filter((d) => abComparison(d.baseline, d.candidate, factor).verdict === "slower").length / directions.length;

  it(`holds ${RUNS} runs × 3 prompts × 2 labels of ${TIMED} timed runs of 31 steps, each run its own process`, () => {
    expect(runs).toHaveLength(RUNS);
    expect([perPrompt.length, pooled.length]).toEqual([RUNS * 2 * PROMPTS.length, RUNS * 2]);
    for (const { a, b } of runs) {
      for (const side of [a, b]) {
        expect(side.map((s) => s.promptId).sort()).toEqual([...PROMPTS].sort());
        for (const { runs: timed } of side) {
          expect(stepLatenciesMs(timed).map((s) => s.length)).toEqual(Array(TIMED).fill(31));
          // One process per timed run: every run's process index is its own.
          expect(new Set(timed.map((r) => r.process_index)).size).toBe(TIMED);
        }
      }
    }
  });

  it("compare (2 % band, 95 % interval), prompts pooled: at most 5 % false alarms; a 10 % slowdown caught in at least 95 %", () => {
    expect(flagged(pooled, 1)).toBeLessThanOrEqual(0.05);
    expect(flagged(pooled, 1.1)).toBeGreaterThanOrEqual(0.95);
  });

  it("compare per prompt: at most 5 % false alarms; one prompt's 20 processes a side catch a 10 % slowdown in at least 85 %", () => {
    expect(flagged(perPrompt, 1)).toBeLessThanOrEqual(0.05);
    expect(flagged(perPrompt, 1.1)).toBeGreaterThanOrEqual(0.85);
  });

  it("ab (pooled over the prompts, 2 % band): at most 5 % false alarms, a 10 % slowdown caught in at least 95 %", () => {
    expect(abFlags(1)).toBeLessThanOrEqual(0.05);
    expect(abFlags(1.1)).toBeGreaterThanOrEqual(0.95);
  });
});
