/** Arithmetic mean of a non-empty sample. Same unit as the sample. */
export function mean(sample: ArrayLike<number>): number {
  if (sample.length === 0) throw new RangeError("mean of an empty sample");
  let sum = 0;
  for (let i = 0; i < sample.length; i++) sum += sample[i];
  return sum / sample.length;
}

/**
 * Geometric mean of a non-empty sample of positive values, exp(mean(ln x)): the mean of ratios (a
 * speed ratio per prompt), where 2× and 0.5× average to 1×. Same unit as the sample.
 */
export function geometricMean(sample: ArrayLike<number>): number {
  if (sample.length === 0) throw new RangeError("geometric mean of an empty sample");
  let sumLog = 0;
  for (let i = 0; i < sample.length; i++) {
    if (!(sample[i] > 0)) throw new RangeError(`geometric mean of a non-positive value (${sample[i]})`);
    sumLog += Math.log(sample[i]);
  }
  return Math.exp(sumLog / sample.length);
}
