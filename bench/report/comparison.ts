// The one relative-speed engine (as hyperfine's relative_speed feeds every export): the report's
// tables, `qwen3-bench compare` and `qwen3-bench ab` all read a SpeedComparison made here, with its
// verdict from the one rule in bench/stats/gate.ts.
import type { RunRecord } from "../harness/schema/results.ts";
import { BOOTSTRAP_DEFAULTS, bootstrapMedianCi, type ConfidenceInterval } from "../stats/bootstrap.ts";
import { gateVerdict, type Verdict } from "../stats/gate.ts";
import { geometricMeanRatioCi, hierarchicalRatioResamples, percentileInterval, pooledStatistic, type PooledStatistic, type RatioResamples } from "../stats/hierarchical-bootstrap.ts";
import { geometricMean } from "../stats/mean.ts";

/** promptId of a comparison that pools every prompt of one (baseline, candidate). */
export const ALL_PROMPTS = "all prompts";

/** How a comparison is made and judged. */
export interface GateSettings {
  /** Tolerated relative change of speed (0.02 = ±2 %). */
  band: number;
  /** Two-sided confidence of the ratio's interval (0.95). */
  confidence: number;
  /** Statistic of decode-step latencies: of each side's pooled steps (independent), of each run's steps (paired). */
  statistic: PooledStatistic;
}

export const DEFAULT_GATE: GateSettings = { band: 0.02, confidence: BOOTSTRAP_DEFAULTS.confidence, statistic: "median" };

/**
 * How the two sides' runs relate. "independent": separate samples (two frameworks, two benchmark
 * runs), compared by a two-stage bootstrap of their decode steps (runs, then steps within each run).
 * "paired": timed run i of two labels of one benchmark run is pair i (sent back to back when
 * interleaved, so a shift of the host's speed falls on both and cancels in their ratio); the pairs'
 * ratios are the evidence, their median with a percentile-bootstrap interval over the pairs.
 */
export type Pairing = "independent" | "paired";

/** One side of a case: a label and its timed runs on the case's prompt. */
export interface Side {
  label: string;
  runs: RunRecord[];
}

/** A candidate measured against a baseline on one prompt. */
export interface Case {
  promptId: string;
  baseline: Side;
  candidate: Side;
}

/** How a candidate's decode speed compares with a baseline's, on one prompt or pooled over several (ALL_PROMPTS). */
export interface SpeedComparison {
  pairing: Pairing;
  baseline: string;
  candidate: string;
  promptId: string;
  /** 1000 / the statistic of each side's decode-step latencies (TTFT excluded), tok/s; over prompts, their geometric mean. */
  baselineTps: number;
  candidateTps: number;
  /** Candidate speed / baseline speed, unitless (0.90 = 10 % slower), with its interval. */
  ratio: ConfidenceInterval;
  verdict: Verdict;
  /** Timed runs and decode steps per side (for "paired", those of the pairs). */
  baselineRuns: number;
  candidateRuns: number;
  baselineSteps: number;
  candidateSteps: number;
  /** "paired" only: whether every pair's two runs were sent back to back (A_i, B_i, then A_i+1...). */
  interleaved: boolean;
  /** What pooling over prompts draws on: the ratio's bootstrap resamples (independent), or each pair's time ratio candidate ÷ baseline (paired); null once pooled. */
  evidence: { resamples: RatioResamples } | { pairTimeRatios: number[] } | null;
}

/** Decode-step latencies of each run (per_token_latencies_ms without entry 0, the TTFT), milliseconds. */
export const stepLatenciesMs = (runs: RunRecord[]): number[][] => runs.map((r) => r.per_token_latencies_ms.slice(1)).filter((steps) => steps.length > 0);

const sum = (values: number[]) => values.reduce((a, v) => a + v, 0);
const stepCount = (steps: number[][]) => sum(steps.map((s) => s.length));

/** Whether the runs alternate in time pair by pair: both runs of pair i start before either of pair i + 1. */
function alternate(a: RunRecord[], b: RunRecord[]): boolean {
  const t = (run: RunRecord) => Date.parse(run.started_at);
  for (let i = 0; i + 1 < a.length; i++) if (Math.max(t(a[i]), t(b[i])) > Math.min(t(a[i + 1]), t(b[i + 1]))) return false;
  return true;
}

/** A time ratio (candidate ÷ baseline, above 1 = slower) as a speed ratio (above 1 = faster), bounds swapped. */
const speedFromTimeRatio = (time: ConfidenceInterval): ConfidenceInterval => ({ ...time, estimate: 1 / time.estimate, low: 1 / time.high, high: 1 / time.low });

/** What both pairings report alike: the labels, each side's speed, runs and steps, the ratio and its verdict. */
function figures(c: Case, gate: GateSettings, ratio: ConfidenceInterval, baselineSteps: number[][], candidateSteps: number[][]) {
  return {
    baseline: c.baseline.label,
    candidate: c.candidate.label,
    promptId: c.promptId,
    baselineTps: 1000 / pooledStatistic(baselineSteps, gate.statistic),
    candidateTps: 1000 / pooledStatistic(candidateSteps, gate.statistic),
    ratio,
    verdict: gateVerdict(ratio, gate.band),
    baselineRuns: baselineSteps.length,
    candidateRuns: candidateSteps.length,
    baselineSteps: stepCount(baselineSteps),
    candidateSteps: stepCount(candidateSteps),
  };
}

function independent(c: Case, gate: GateSettings, stream: number): SpeedComparison {
  const baselineSteps = stepLatenciesMs(c.baseline.runs);
  const candidateSteps = stepLatenciesMs(c.candidate.runs);
  if (baselineSteps.length === 0 || candidateSteps.length === 0) throw new RangeError(`compare ${c.candidate.label} with ${c.baseline.label} on ${c.promptId}: a side has no decode steps (runs of one token)`);
  const resamples = hierarchicalRatioResamples(baselineSteps, candidateSteps, { statistic: gate.statistic, stream });
  const ratio = percentileInterval(resamples, gate.confidence);
  return { pairing: "independent", ...figures(c, gate, ratio, baselineSteps, candidateSteps), interleaved: false, evidence: { resamples } };
}

function paired(c: Case, gate: GateSettings): SpeedComparison | null {
  const a: RunRecord[] = [];
  const b: RunRecord[] = [];
  for (const run of c.baseline.runs) {
    const other = c.candidate.runs.find((r) => r.iteration === run.iteration);
    if (other && run.per_token_latencies_ms.length > 1 && other.per_token_latencies_ms.length > 1) {
      a.push(run);
      b.push(other);
    }
  }
  if (a.length === 0) return null;
  const stepMs = (run: RunRecord) => pooledStatistic([run.per_token_latencies_ms.slice(1)], gate.statistic);
  const pairTimeRatios = a.map((run, i) => stepMs(b[i]) / stepMs(run));
  const ratio = speedFromTimeRatio(bootstrapMedianCi(pairTimeRatios, { confidence: gate.confidence }));
  return { pairing: "paired", ...figures(c, gate, ratio, stepLatenciesMs(a), stepLatenciesMs(b)), interleaved: alternate(a, b), evidence: { pairTimeRatios } };
}

/**
 * Several prompts of one (baseline, candidate) as one comparison: a build 10 % slower per step is so
 * on every prompt, and pooling narrows the interval. Independent: the geometric mean of the prompts'
 * ratios, each resample the geometric mean of theirs (each prompt drew its own random stream).
 * Paired: the median over every prompt's pairs.
 */
export function pooledComparison(parts: SpeedComparison[], gate: GateSettings = DEFAULT_GATE): SpeedComparison {
  const [first] = parts;
  if (!first || parts.some((p) => p.baseline !== first.baseline || p.candidate !== first.candidate || p.pairing !== first.pairing)) {
    throw new Error("pooledComparison: give the comparisons of one (baseline, candidate, pairing)");
  }
  const resamples = parts.flatMap((p) => (p.evidence && "resamples" in p.evidence ? [p.evidence.resamples] : []));
  const pairTimeRatios = parts.flatMap((p) => (p.evidence && "pairTimeRatios" in p.evidence ? p.evidence.pairTimeRatios : []));
  if (parts.some((p) => p.evidence === null)) throw new Error("pooledComparison: a part is itself pooled");
  const ratio =
    first.pairing === "independent"
      ? geometricMeanRatioCi(resamples, gate.confidence)
      : speedFromTimeRatio(bootstrapMedianCi(pairTimeRatios, { confidence: gate.confidence }));
  return {
    pairing: first.pairing,
    baseline: first.baseline,
    candidate: first.candidate,
    promptId: ALL_PROMPTS,
    baselineTps: geometricMean(parts.map((p) => p.baselineTps)),
    candidateTps: geometricMean(parts.map((p) => p.candidateTps)),
    ratio,
    verdict: gateVerdict(ratio, gate.band),
    baselineRuns: sum(parts.map((p) => p.baselineRuns)),
    candidateRuns: sum(parts.map((p) => p.candidateRuns)),
    baselineSteps: sum(parts.map((p) => p.baselineSteps)),
    candidateSteps: sum(parts.map((p) => p.candidateSteps)),
    interleaved: parts.every((p) => p.interleaved),
    evidence: null,
  };
}

/**
 * Compares every case: for each (baseline, candidate) in the order first met, one comparison per
 * prompt, then, where there are several, one over all of them (ALL_PROMPTS). A paired case whose
 * labels share no timed iteration is left out.
 */
export function compareCases(cases: Case[], pairing: Pairing, gate: GateSettings = DEFAULT_GATE): SpeedComparison[] {
  const couples = new Map<string, Case[]>();
  for (const c of cases) {
    const key = JSON.stringify([c.baseline.label, c.candidate.label]);
    couples.set(key, [...(couples.get(key) ?? []), c]);
  }
  return [...couples.values()].flatMap((couple) => {
    // Each prompt its own random stream, so that their resamples pool independently.
    const parts = couple.map((c, stream) => (pairing === "independent" ? independent(c, gate, stream) : paired(c, gate))).filter((c): c is SpeedComparison => c !== null);
    return parts.length > 1 ? [...parts, pooledComparison(parts, gate)] : parts;
  });
}
