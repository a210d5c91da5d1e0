/** Arithmetic mean of a non-empty sample. Same unit as the sample. */
export function mean(sample: ArrayLike<number>): number {
  if (sample.length === 0) throw new RangeError("mean of an empty sample");
  let sum = 0;
  for (let i = 0; i < sample.length; i++) sum += sample[i];
  return sum / sample.length;
}
