import { normalSf } from "./normal.ts";

/** Result of a two-sided Mann-Whitney U test. */
export interface MannWhitneyResult {
  /** U of the first sample: the number of (x, y) pairs with x > y, ties counting ½. */
  u1: number;
  /** Two-sided p-value, in [0, 1]. */
  p: number;
  method: "exact" | "asymptotic";
}

/** Ranks 1..n of the pooled values, tied values sharing their average rank; also Σ(t³ − t) over tie groups. */
function rankPooled(values: number[]): { ranks: Float64Array; tieTerm: number } {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(values.length);
  let tieTerm = 0;
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end++;
    const averageRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]] = averageRank;
    const t = end - start;
    tieTerm += t * t * t - t;
    start = end;
  }
  return { ranks, tieTerm };
}

/**
 * Counts of U = 0..m·n over all C(m+n, m) equally likely arrangements without ties: the coefficients of
 * the Gaussian binomial [m+n choose m]_q = Π_{i=1..m} (1 − q^{n+i}) / (1 − q^i). After step i the array
 * holds [n+i choose i]_q, whose integer coefficients stay below C(m+n, m), so doubles are exact while
 * that is under 2^53.
 */
function exactUCounts(m: number, n: number): Float64Array {
  const counts = new Float64Array(m * n + 1);
  counts[0] = 1;
  for (let i = 1; i <= m; i++) {
    const shift = n + i;
    for (let u = m * n; u >= shift; u--) counts[u] -= counts[u - shift];
    for (let u = i; u <= m * n; u++) counts[u] += counts[u - i];
  }
  return counts;
}

/**
 * Two-sided Mann-Whitney U (Wilcoxon rank-sum) test of "x and y come from the same distribution".
 * Chooses like scipy.stats.mannwhitneyu(method="auto"): the exact null distribution when the smaller
 * sample has at most 8 values and there are no ties, otherwise the normal approximation with tie
 * correction and continuity correction. Note the floor of the exact test: with 3 values against 3
 * the smallest possible p is 0.1, so few runs can never reach p < 0.05.
 */
export function mannWhitneyU(x: ArrayLike<number>, y: ArrayLike<number>): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError("mannWhitneyU: both samples need at least one value");
  const pooled = [...Array.from(x), ...Array.from(y)];
  if (!pooled.every(Number.isFinite)) throw new RangeError("mannWhitneyU: samples must be finite");
  const { ranks, tieTerm } = rankPooled(pooled);
  let rankSum1 = 0;
  for (let i = 0; i < n1; i++) rankSum1 += ranks[i];
  const u1 = rankSum1 - (n1 * (n1 + 1)) / 2;
  const u = Math.max(u1, n1 * n2 - u1);

  if (Math.min(n1, n2) <= 8 && tieTerm === 0) {
    const counts = exactUCounts(Math.min(n1, n2), Math.max(n1, n2));
    let total = 0;
    let atLeast = 0;
    for (let k = 0; k < counts.length; k++) {
      total += counts[k];
      if (k >= u) atLeast += counts[k];
    }
    return { u1, p: Math.min(1, (2 * atLeast) / total), method: "exact" };
  }

  const n = n1 + n2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u1, p: 1, method: "asymptotic" };
  const z = (u - (n1 * n2) / 2 - 0.5) / Math.sqrt(variance);
  return { u1, p: Math.min(1, 2 * normalSf(z)), method: "asymptotic" };
}
