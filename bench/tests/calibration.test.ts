// The regression gate (`qwen3-bench compare`) on recorded real runs of identical code.
//
// fixtures/calibration/burn-cpu/run-01..14: 14 separate `vitest bench` runs (fixtures/calibration/
// record.sh, 2026-11-29 14:32-14:40 UTC, the 2-core KVM machine of this repository's sessions, AMD
// EPYC, harness 99ffa86-dirty), each measuring ONE Burn runner binary (runners/burn at c6a6420, cpu
// feature) under two labels, burn-cpu@a and burn-cpu@b, requests interleaved a, b, a, b (0.1 s apart),
// quick profile (3 timed runs of 31 decode steps per prompt), tiny f32 model, the runner at real-time
// priority on one core (fixtures/calibration/runner-rt.sh says why). Every (run, direction, prompt)
// is one comparison of identical code: 14 × 2 × 3 = 84.
//
// What the data show: two processes of the same binary, interleaved, differ by up to 20 % in median
// step latency, consistently over their three timed runs and often over all three prompts (run-05,
// -06, -08, -14: label a 10-15 % slower throughout). That is a property of the process (its memory
// placement on this host), the same for all of a side's runs, so no resampling inside one results
// file can see it: it belongs in the noise band. With the default band (2 %) the gate falsely flags
// 14 of 84 identical pairs here; the band this host needs for ≤ 5 % false alarms is 10 %, and then a
// 10 % slowdown is caught in 15 of 84 pairs, a 40 % one in 82. The 20 %-slower quick-profile copy of
// fixtures/results-sample is caught (bench/tests/compare.test.ts); on a host whose processes agree
// better, the same rule catches smaller slowdowns.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES_DIR } from "../harness/paths.ts";
import type { RunRecord } from "../harness/schema/results.ts";
import { stepLatenciesMs } from "../report/comparison.ts";
import { loadResults } from "../report/summary.ts";
import { DEFAULT_GATE } from "../report/comparison.ts";
import type { ConfidenceInterval } from "../stats/bootstrap.ts";
import { gateVerdict } from "../stats/gate.ts";
import { hierarchicalRatioCi } from "../stats/hierarchical-bootstrap.ts";

const CALIBRATION_DIR = join(FIXTURES_DIR, "calibration", "burn-cpu");
/** The smallest noise band (in steps of 1 %) with at most 5 % false alarms on these runs. */
const HOST_BAND = 0.1;

interface Pair {
  name: string;
  baseline: RunRecord[];
  candidate: RunRecord[];
}

/** Every ordered (a, b) and (b, a) comparison of each recorded run, per prompt; files validated by the schema. */
function identicalPairs(): Pair[] {
  const pairs: Pair[] = [];
  for (const run of readdirSync(CALIBRATION_DIR).sort()) {
    const dir = join(CALIBRATION_DIR, run);
    const [a, b] = ["a", "b"].map((label) => loadResults([join(dir, `burn-cpu@${label}_results.json`)]));
    for (const [x, y, direction] of [[a, b, "a→b"], [b, a, "b→a"]] as const) {
      for (const s of x.summaries) {
        const other = y.summaries.find((t) => t.promptId === s.promptId)!;
        pairs.push({ name: `${run} ${direction} ${s.promptId}`, baseline: s.runs, candidate: other.runs });
      }
    }
  }
  return pairs;
}

/** The gate's interval (its default statistic and resampling) with every candidate step × factor. */
function interval(pair: Pair, factor: number): ConfidenceInterval {
  const candidate = stepLatenciesMs(pair.candidate).map((run) => run.map((ms) => ms * factor));
  return hierarchicalRatioCi(stepLatenciesMs(pair.baseline), candidate, { confidence: DEFAULT_GATE.confidence, statistic: DEFAULT_GATE.statistic });
}

const flagged = (intervals: ConfidenceInterval[], band: number) => intervals.filter((ci) => gateVerdict(ci, band) === "slower").length;

describe("regression gate on recorded identical runs (burn-cpu, quick profile, A/B interleaved)", () => {
  const pairs = identicalPairs();
  const same = pairs.map((p) => interval(p, 1));
  const slower10 = pairs.map((p) => interval(p, 1.1));
  const slower40 = pairs.map((p) => interval(p, 1.4));

  it("holds 14 runs × 2 directions × 3 prompts of 3 timed runs of 31 steps", () => {
    expect(pairs).toHaveLength(84);
    for (const p of pairs) expect(stepLatenciesMs(p.baseline).map((s) => s.length)).toEqual([31, 31, 31]);
  });

  it("with the band this host needs, false alarms on identical code stay within 5 %", () => {
    expect(flagged(same, HOST_BAND) / pairs.length).toBeLessThanOrEqual(0.05);
    // 1 % less and the rate exceeds 5 %: HOST_BAND is the smallest that holds.
    expect(flagged(same, HOST_BAND - 0.01) / pairs.length).toBeGreaterThan(0.05);
  });

  it("the default band (2 %) is narrower than this host's process-to-process spread", () => {
    expect(flagged(same, DEFAULT_GATE.band)).toBe(14);
  });

  it("detection with the host's band: a 40 % slowdown in ≥ 95 % of pairs, a 10 % one in few", () => {
    expect(flagged(slower40, HOST_BAND) / pairs.length).toBeGreaterThanOrEqual(0.95);
    expect(flagged(slower10, HOST_BAND)).toBe(15);
  });
});
