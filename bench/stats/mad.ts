import { median } from "./median.ts";

/**
 * Median absolute deviation, median(|x − median(x)|), unscaled (scipy's
 * `median_abs_deviation(x, scale=1.0)`). Same unit as the sample. Multiply by 1.4826 for a consistent
 * estimate of a normal distribution's standard deviation.
 */
export function mad(sample: ArrayLike<number>): number {
  const center = median(sample);
  return median(Array.from(sample, (x) => Math.abs(x - center)));
}
