import { Xoshiro128 } from "./rng.ts";
import { BOOTSTRAP_DEFAULTS, type BootstrapOptions, type ConfidenceInterval } from "./bootstrap.ts";
import { geometricMean } from "./mean.ts";
import { quantileSorted } from "./quantile.ts";

/**
 * Statistic of the pooled per-step values of one side: "mean" (total time / steps, the inverse of
 * throughput), "median", or a percentile "p10", "p25", ... (linear interpolation, see quantileSorted).
 * Interference from other processes only adds time to a step, so low percentiles estimate the
 * undisturbed step time on a busy machine (Chen & Revels 2016, "Robust benchmarking in noisy
 * environments", argue the same for the minimum).
 */
export type PooledStatistic = "mean" | "median" | `p${number}`;

/** The percentile (above 0, below 100) a name "p10", "p2.5" gives, or null for any other name. */
function percentileOf(statistic: string): number | null {
  const match = /^p(\d{1,2}(\.\d+)?)$/.exec(statistic);
  return match && Number(match[1]) > 0 ? Number(match[1]) : null;
}

/** Whether a name is a PooledStatistic: mean, median or a percentile p1..p99. */
export const isPooledStatistic = (statistic: string): statistic is PooledStatistic =>
  statistic === "mean" || statistic === "median" || percentileOf(statistic) !== null;

/** The quantile (0..1) a statistic names, or null for the mean; throws on a malformed name. */
export function statisticQuantile(statistic: string): number | null {
  if (statistic === "mean") return null;
  if (statistic === "median") return 0.5;
  const percentile = percentileOf(statistic);
  if (percentile === null) throw new RangeError(`statistic must be mean, median or a percentile p1..p99, got ${JSON.stringify(statistic)}`);
  return percentile / 100;
}

export interface HierarchicalBootstrapOptions extends BootstrapOptions {
  /** Statistic of each side's pooled values; "median" by default. */
  statistic?: PooledStatistic;
  /** Random stream (with the seed) of the resamples: give comparisons that are pooled later different streams so their draws are independent; 0 by default. */
  stream?: number;
}

/** A ratio's point estimate and its bootstrap resamples in the order they were drawn (not sorted). */
export interface RatioResamples {
  estimate: number;
  ratios: Float64Array;
}

const DEFAULTS = { ...BOOTSTRAP_DEFAULTS, statistic: "median" } as const;
/** Stream id of this bootstrap's random numbers (any constant, apart from the plain bootstrap's). */
const HIERARCHICAL_STREAM = 0xb10c;

/** One side's runs, each a non-empty array of finite values; copied into typed arrays. */
function checkRuns(runs: ArrayLike<ArrayLike<number>>, what: string): Float64Array[] {
  if (runs.length === 0) throw new RangeError(`${what}: no runs`);
  return Array.from({ length: runs.length }, (_, r) => {
    const run = Float64Array.from(runs[r]);
    if (run.length === 0) throw new RangeError(`${what}: run ${r} has no values`);
    for (const x of run) if (!Number.isFinite(x)) throw new RangeError(`${what}: run ${r} contains a non-finite value (${x})`);
    return run;
  });
}

function statisticOf(values: Float64Array, quantile: number | null): number {
  if (quantile === null) {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i];
    return sum / values.length;
  }
  return quantileSorted(values.sort(), quantile);
}

/** Statistic of all values of all runs, pooled. */
export function pooledStatistic(runs: ArrayLike<ArrayLike<number>>, statistic: PooledStatistic = "median"): number {
  const checked = checkRuns(runs, "runs");
  const pooled = new Float64Array(checked.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const run of checked) {
    pooled.set(run, at);
    at += run.length;
  }
  return statisticOf(pooled, statisticQuantile(statistic));
}

/** A uniform index in 0..n−1 (multiply-shift of a 32-bit draw; negligible bias for small n). */
const draw = (rng: Xoshiro128, n: number): number => Math.floor((rng.nextU32() * n) / 4294967296);

/**
 * One two-stage resample of a side: draw as many runs as it has, with replacement; from each drawn
 * run draw as many values as it has, with replacement; the statistic of everything drawn.
 */
function resampleStatistic(runs: Float64Array[], rng: Xoshiro128, scratch: Float64Array, quantile: number | null): number {
  let n = 0;
  for (let r = 0; r < runs.length; r++) {
    const run = runs[draw(rng, runs.length)];
    for (let i = 0; i < run.length; i++) scratch[n++] = run[draw(rng, run.length)];
  }
  return statisticOf(scratch.subarray(0, n), quantile);
}

/**
 * Percentile confidence interval of stat(numerator) / stat(denominator), where each side is a set of
 * independent runs and each run a sequence of per-step values (decode step latencies), by a two-stage
 * (hierarchical) bootstrap: each resample draws runs with replacement, then steps with replacement
 * inside each drawn run, and pools them (Davison & Hinkley 1997, §3.8; Saravanan et al. 2020).
 *
 * Why the run is the resampling block: steps of one run share that run's conditions (clock state,
 * background load, cache placement), so they are not independent; resampling steps alone would treat
 * a whole run's shift as if it were 31 independent coin flips and give intervals far too narrow. The
 * run level carries the between-run spread; the step level keeps the interval from collapsing when a
 * side has few runs whose means happen to agree. The estimator is conservative when runs agree (the
 * within-run spread is counted at both stages) and slightly optimistic when whole-run shifts dominate
 * (with R runs, resampling them keeps (R − 1)/R of their variance): the noise band of the gate covers
 * the latter, and the calibration over recorded identical runs (bench/tests/calibration.test.ts)
 * measures the false-alarm rate this gives.
 *
 * With numerator = baseline step latencies and denominator = candidate ones the ratio is candidate
 * speed / baseline speed: 0.90 means the candidate decodes 10 % slower. The point estimate is the
 * ratio of the pooled statistics of the data as given.
 */
export function hierarchicalRatioCi(
  numeratorRuns: ArrayLike<ArrayLike<number>>,
  denominatorRuns: ArrayLike<ArrayLike<number>>,
  options: HierarchicalBootstrapOptions = {},
): ConfidenceInterval {
  const opts = { ...DEFAULTS, ...options };
  return percentileInterval(hierarchicalRatioResamples(numeratorRuns, denominatorRuns, options), opts.confidence);
}

/** The percentile interval of resampled ratios around their point estimate. */
export function percentileInterval(resampled: RatioResamples, confidence: number): ConfidenceInterval {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`bootstrap: confidence must be in (0, 1), got ${confidence}`);
  const sorted = Float64Array.from(resampled.ratios).sort();
  const tail = (1 - confidence) / 2;
  return { estimate: resampled.estimate, low: quantileSorted(sorted, tail), high: quantileSorted(sorted, 1 - tail), confidence, resamples: sorted.length };
}

/**
 * One ratio over several comparisons of one framework (its prompts): the geometric mean of their
 * ratios, each resample the geometric mean of the parts' resamples of the same index. A build that
 * is 10 % slower per step is so on every prompt, and pooling the prompts' independent resamples
 * (hierarchicalRatioResamples with a stream each) narrows the interval by about √(prompts).
 */
export function geometricMeanRatioCi(parts: RatioResamples[], confidence: number): ConfidenceInterval {
  if (parts.length === 0) throw new RangeError("geometricMeanRatioCi: no parts");
  const n = parts[0].ratios.length;
  if (parts.some((p) => p.ratios.length !== n)) throw new RangeError("geometricMeanRatioCi: the parts have different numbers of resamples");
  const ratios = new Float64Array(n);
  for (let b = 0; b < n; b++) ratios[b] = geometricMean(parts.map((p) => p.ratios[b]));
  return percentileInterval({ estimate: geometricMean(parts.map((p) => p.estimate)), ratios }, confidence);
}

/** The resamples behind hierarchicalRatioCi, in draw order (see there). */
export function hierarchicalRatioResamples(
  numeratorRuns: ArrayLike<ArrayLike<number>>,
  denominatorRuns: ArrayLike<ArrayLike<number>>,
  options: HierarchicalBootstrapOptions = {},
): RatioResamples {
  const opts = { ...DEFAULTS, ...options };
  if (!Number.isInteger(opts.resamples) || opts.resamples < 1) throw new RangeError(`bootstrap: resamples must be a positive integer, got ${opts.resamples}`);
  const num = checkRuns(numeratorRuns, "numerator");
  const den = checkRuns(denominatorRuns, "denominator");
  const longest = (runs: Float64Array[]) => runs.length * Math.max(...runs.map((r) => r.length));
  const numScratch = new Float64Array(longest(num));
  const denScratch = new Float64Array(longest(den));
  const quantile = statisticQuantile(opts.statistic);
  const rng = new Xoshiro128(opts.seed, HIERARCHICAL_STREAM + (options.stream ?? 0));
  const ratios = new Float64Array(opts.resamples);
  for (let b = 0; b < opts.resamples; b++) {
    const n = resampleStatistic(num, rng, numScratch, quantile);
    ratios[b] = n / resampleStatistic(den, rng, denScratch, quantile);
  }
  return { estimate: pooledStatistic(num, opts.statistic) / pooledStatistic(den, opts.statistic), ratios };
}
