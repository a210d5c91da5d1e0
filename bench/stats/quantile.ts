import { sortedSample } from "./sorted.ts";

/**
 * The p-quantile (0 ≤ p ≤ 1) of an ascending-sorted sample, by linear interpolation between closest
 * ranks: h = (n − 1)·p, result = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋ + 1] − x[⌊h⌋]). This is numpy's default
 * (`method="linear"`, Hyndman & Fan type 7): p = 0 gives the minimum, p = 1 the maximum, and a quantile
 * never leaves the sample's range, so p99 of fewer than 100 values lies between the two largest.
 * Same unit as the sample.
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile: p must be in [0, 1], got ${p}`);
  const n = sorted.length;
  if (n === 0) throw new RangeError("quantile of an empty sample");
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** The p-quantile of an unsorted sample (see quantileSorted for the interpolation). */
export function quantile(sample: ArrayLike<number>, p: number): number {
  return quantileSorted(sortedSample(sample), p);
}

/** Percentile q in [0, 100]: quantile(sample, q / 100). */
export function percentile(sample: ArrayLike<number>, q: number): number {
  return quantile(sample, q / 100);
}
