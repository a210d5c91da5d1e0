import { Xoshiro128 } from "./rng.ts";
import { quantileSorted } from "./quantile.ts";
import { sortedSample } from "./sorted.ts";

/** Options of a percentile bootstrap. */
export interface BootstrapOptions {
  /** Number of resamples; at least 10,000 by default so the 2.5 % and 97.5 % tails hold 250 values each. */
  resamples?: number;
  /** Two-sided confidence level in (0, 1); 0.95 by default. */
  confidence?: number;
  /** PRNG seed (xoshiro128**): the same sample and seed give the same interval on every machine. */
  seed?: number;
}

/** A point estimate with its percentile-bootstrap confidence interval, in the estimate's unit. */
export interface ConfidenceInterval {
  estimate: number;
  low: number;
  high: number;
  confidence: number;
  resamples: number;
}

/** Every bootstrap's defaults (this one and the hierarchical one): resamples, confidence, seed. */
export const BOOTSTRAP_DEFAULTS = { resamples: 10_000, confidence: 0.95, seed: 0x5eed } as const;
/** Stream id of the bootstrap's random numbers (any constant; keeps them apart from other users of the PRNG). */
const BOOTSTRAP_STREAM = 0xb0075;

function resolve(options: BootstrapOptions): Required<BootstrapOptions> {
  const resolved = { ...BOOTSTRAP_DEFAULTS, ...options };
  if (!Number.isInteger(resolved.resamples) || resolved.resamples < 1) throw new RangeError(`bootstrap: resamples must be a positive integer, got ${resolved.resamples}`);
  if (!(resolved.confidence > 0 && resolved.confidence < 1)) throw new RangeError(`bootstrap: confidence must be in (0, 1), got ${resolved.confidence}`);
  return resolved;
}

/** Draws resample medians of `sorted` (n values, with replacement) into `out`, one per entry. */
function resampleMedians(sorted: Float64Array, rng: Xoshiro128, out: Float64Array): void {
  const n = sorted.length;
  const scratch = new Float64Array(n);
  for (let r = 0; r < out.length; r++) {
    // Multiply-shift maps a 32-bit draw to 0..n−1 with negligible bias for small n.
    for (let i = 0; i < n; i++) scratch[i] = sorted[Math.floor((rng.nextU32() * n) / 4294967296)];
    scratch.sort();
    out[r] = quantileSorted(scratch, 0.5);
  }
}

function percentileInterval(estimate: number, statistics: Float64Array, options: Required<BootstrapOptions>): ConfidenceInterval {
  statistics.sort();
  const tail = (1 - options.confidence) / 2;
  return {
    estimate,
    low: quantileSorted(statistics, tail),
    high: quantileSorted(statistics, 1 - tail),
    confidence: options.confidence,
    resamples: options.resamples,
  };
}

/**
 * Percentile-bootstrap confidence interval of the median: resample the sample with replacement
 * `resamples` times, take each resample's median, and report the (1 − confidence)/2 and
 * (1 + confidence)/2 quantiles of those medians (linear interpolation, see quantileSorted).
 * With very few values the interval is coarse (n = 3 can only land on sample values).
 */
export function bootstrapMedianCi(sample: ArrayLike<number>, options: BootstrapOptions = {}): ConfidenceInterval {
  const opts = resolve(options);
  const sorted = sortedSample(sample);
  const medians = new Float64Array(opts.resamples);
  resampleMedians(sorted, new Xoshiro128(opts.seed, BOOTSTRAP_STREAM), medians);
  return percentileInterval(quantileSorted(sorted, 0.5), medians, opts);
}

/**
 * Percentile-bootstrap confidence interval of median(numerator) / median(denominator), the two samples
 * resampled independently (they come from independent runs). A ratio of tok/s medians is unitless:
 * 1.25 means the numerator is 25 % faster.
 */
export function bootstrapMedianRatioCi(numerator: ArrayLike<number>, denominator: ArrayLike<number>, options: BootstrapOptions = {}): ConfidenceInterval {
  const opts = resolve(options);
  const num = sortedSample(numerator, "numerator");
  const den = sortedSample(denominator, "denominator");
  const rng = new Xoshiro128(opts.seed, BOOTSTRAP_STREAM);
  const numMedians = new Float64Array(opts.resamples);
  const denMedians = new Float64Array(opts.resamples);
  resampleMedians(num, rng, numMedians);
  resampleMedians(den, rng, denMedians);
  const ratios = numMedians.map((m, i) => m / denMedians[i]);
  return percentileInterval(quantileSorted(num, 0.5) / quantileSorted(den, 0.5), ratios, opts);
}
