/** A numeric sample sorted ascending, as a copy; throws on an empty or non-finite sample. */
export function sortedSample(sample: ArrayLike<number>, what = "sample"): Float64Array {
  if (sample.length === 0) throw new RangeError(`${what} is empty`);
  const sorted = Float64Array.from(sample);
  for (const x of sorted) if (!Number.isFinite(x)) throw new RangeError(`${what} contains a non-finite value (${x})`);
  return sorted.sort();
}
