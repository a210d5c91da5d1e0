import { quantileSorted } from "./quantile.ts";
import { sortedSample } from "./sorted.ts";

/** Median of a sample: the middle value, or the mean of the two middle values when n is even. Same unit as the sample. */
export function median(sample: ArrayLike<number>): number {
  return quantileSorted(sortedSample(sample), 0.5);
}
