import type { RunRecord } from "../harness/schema/results.ts";
import { bootstrapMedianRatioCi, type ConfidenceInterval } from "../stats/bootstrap.ts";
import { gateVerdict, type GateVerdict } from "../stats/gate.ts";
import { geometricMeanRatioCi, hierarchicalRatioResamples, percentileInterval, pooledStatistic, type PooledStatistic, type RatioResamples } from "../stats/hierarchical-bootstrap.ts";
import { mannWhitneyU } from "../stats/mann-whitney.ts";

/** How one sample of decode speeds compares with a baseline sample. */
export interface DecodeComparison {
  /** median(candidate) / median(baseline), unitless (1.10 = 10 % faster), with its 95 % bootstrap interval. */
  ratio: ConfidenceInterval;
  /** Two-sided Mann-Whitney U p-value of "same distribution". */
  p: number;
  pMethod: "exact" | "asymptotic";
  /** The smallest p the rank test can give with these sample sizes (exact test, no ties): 2 / C(n1 + n2, n1). */
  pFloor: number;
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}

/** Compares per-run decode tok/s of a candidate with a baseline's (independent runs). */
export function compareDecodeTps(baseline: number[], candidate: number[]): DecodeComparison {
  const test = mannWhitneyU(candidate, baseline);
  return {
    ratio: bootstrapMedianRatioCi(candidate, baseline),
    p: test.p,
    pMethod: test.method,
    pFloor: Math.min(1, 2 / binomial(baseline.length + candidate.length, Math.min(baseline.length, candidate.length))),
  };
}

/** Settings of the regression gate (`qwen3-bench compare`). */
export interface GateSettings {
  /** Tolerated relative change of speed (0.02 = ±2 %). */
  band: number;
  /** Two-sided confidence of the ratio's interval (0.95). */
  confidence: number;
  /** Statistic of each side's pooled step latencies. */
  statistic: PooledStatistic;
}

export const DEFAULT_GATE: GateSettings = { band: 0.02, confidence: 0.95, statistic: "median" };

/** How a candidate's decode steps compare with a baseline's, for one (framework, prompt). */
export interface StepComparison {
  /** The statistic of each side's pooled decode-step latencies (TTFT excluded), milliseconds. */
  baselineStepMs: number;
  candidateStepMs: number;
  /** Candidate speed / baseline speed = baselineStepMs / candidateStepMs (0.90 = 10 % slower), with its interval. */
  ratio: ConfidenceInterval;
  /** The ratio's bootstrap resamples in draw order, for pooling the prompts of one framework (pooledStepComparison). */
  resamples: RatioResamples;
  verdict: GateVerdict;
  /** Runs and decode steps per side. */
  baselineRuns: number;
  candidateRuns: number;
  baselineSteps: number;
  candidateSteps: number;
}

/** Decode-step latencies of each run (per_token_latencies_ms without entry 0, the TTFT), milliseconds. */
export const stepLatenciesMs = (runs: RunRecord[]): number[][] => runs.map((r) => r.per_token_latencies_ms.slice(1)).filter((steps) => steps.length > 0);

/**
 * The regression gate's comparison: every decode step of every timed run on both sides, the run as
 * the resampling block (hierarchicalRatioCi), the verdict from the ratio's interval and the noise band
 * (gateVerdict).
 */
export function compareDecodeSteps(baseline: RunRecord[], candidate: RunRecord[], gate: GateSettings = DEFAULT_GATE, stream = 0): StepComparison {
  const baselineSteps = stepLatenciesMs(baseline);
  const candidateSteps = stepLatenciesMs(candidate);
  if (baselineSteps.length === 0 || candidateSteps.length === 0) throw new RangeError("compare: a side has no decode steps (runs of one token)");
  const resamples = hierarchicalRatioResamples(baselineSteps, candidateSteps, { statistic: gate.statistic, stream });
  const ratio = percentileInterval(resamples, gate.confidence);
  return {
    baselineStepMs: pooledStatistic(baselineSteps, gate.statistic),
    candidateStepMs: pooledStatistic(candidateSteps, gate.statistic),
    ratio,
    resamples,
    verdict: gateVerdict(ratio, gate.band),
    baselineRuns: baselineSteps.length,
    candidateRuns: candidateSteps.length,
    baselineSteps: baselineSteps.reduce((n, s) => n + s.length, 0),
    candidateSteps: candidateSteps.reduce((n, s) => n + s.length, 0),
  };
}

/**
 * The gate over every prompt of one framework: the geometric mean of the prompts' speed ratios, its
 * interval from their independent resamples (each prompt compared with its own random stream), and
 * the verdict against the band. Per prompt the runs are the evidence; pooled, three prompts give
 * three times the processes, which the calibration needs to catch a 10 % slowdown
 * (bench/tests/calibration.test.ts).
 */
export function pooledStepComparison(parts: StepComparison[], gate: GateSettings = DEFAULT_GATE): { ratio: ConfidenceInterval; verdict: GateVerdict } {
  const ratio = geometricMeanRatioCi(parts.map((p) => p.resamples), gate.confidence);
  return { ratio, verdict: gateVerdict(ratio, gate.band) };
}

/** The baseline of ratio tables: the requested label if present, else "torch" if present, else the first. */
export function chooseBaseline(labels: string[], requested?: string): string {
  // A framework loaded from several folders is labelled "torch (gpu0)", "torch (gpu1)": its name
  // picks the first of them.
  const find = (name: string) => labels.find((l) => l === name) ?? labels.find((l) => l.startsWith(`${name} (`));
  if (requested !== undefined) {
    const found = find(requested);
    if (!found) throw new Error(`baseline ${JSON.stringify(requested)} is not among the frameworks (${labels.join(", ")})`);
    return found;
  }
  return find("torch") ?? labels[0];
}
