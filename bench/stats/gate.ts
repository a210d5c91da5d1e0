import type { ConfidenceInterval } from "./bootstrap.ts";

/**
 * The one verdict on a speed ratio (candidate / baseline, unitless: 0.90 = 10 % slower) with its
 * confidence interval, against a noise band: a relative change tolerated (0.02 = ±2 %). The report's
 * comparison tables, `qwen3-bench compare` and `qwen3-bench ab` all say what this rule says
 * (bench/report/comparison.ts makes the ratio and calls it).
 *
 * - "slower": the whole interval lies below 1 − band (the candidate is slower by more than the band,
 *   with the interval's confidence).
 * - "faster": the whole interval lies above 1 + band.
 * - "within noise": the whole interval lies inside [1 − band, 1 + band] (no change beyond the band).
 * - "inconclusive": the interval straddles an edge of the band; more runs would decide.
 *
 * Only "slower" fails a gate. Requiring the interval, not only the point estimate, to clear the band
 * makes the band a tolerance the gate keeps: a true slowdown no larger than the band fails it with at
 * most (1 − confidence) / 2 probability.
 */
export type Verdict = "slower" | "faster" | "within noise" | "inconclusive";

export function gateVerdict(ratio: Pick<ConfidenceInterval, "low" | "high">, band: number): Verdict {
  if (!(band >= 0 && band < 1)) throw new RangeError(`noise band must be in [0, 1), got ${band}`);
  if (ratio.high < 1 - band) return "slower";
  if (ratio.low > 1 + band) return "faster";
  if (ratio.low >= 1 - band && ratio.high <= 1 + band) return "within noise";
  return "inconclusive";
}
