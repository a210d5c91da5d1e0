import { describe, expect, it } from "vitest";
import { bootstrapMedianCi, bootstrapMedianRatioCi } from "../stats/bootstrap.ts";
import { mad } from "../stats/mad.ts";
import { mannWhitneyU } from "../stats/mann-whitney.ts";
import { geometricMean, mean } from "../stats/mean.ts";
import { median } from "../stats/median.ts";
import { erfc, normalSf } from "../stats/normal.ts";
import { percentile, quantile } from "../stats/quantile.ts";

// Expected values below were computed independently with numpy 2.4.6 / scipy 1.17.1 (the commands are
// quoted next to each) or by hand, then hard-coded; none of them come from this code.
const decodeTps = [41.2, 39.8, 40.5, 44.1, 38.9, 40.0, 52.3];

describe("median, percentiles, MAD", () => {
  it("median: odd and even counts", () => {
    expect(median(decodeTps)).toBe(40.5); // np.median
    expect(median([4, 1, 3, 2])).toBe(2.5); // by hand: (2 + 3) / 2
    expect(median([7])).toBe(7);
  });

  it("percentiles use linear interpolation between closest ranks (numpy's default)", () => {
    // np.percentile(x, q) for q in 0, 10, 25, 50, 90, 99, 100
    const expected: Array<[number, number]> = [
      [0, 38.9],
      [10, 39.44],
      [25, 39.9],
      [50, 40.5],
      [90, 47.38],
      [99, 51.808],
      [100, 52.3],
    ];
    for (const [q, value] of expected) expect(percentile(decodeTps, q)).toBeCloseTo(value, 10);
    // By hand: sorted [1, 2, 3, 4], h = 3 · 0.9 = 2.7, 3 + 0.7 · (4 − 3) = 3.7.
    expect(quantile([4, 1, 3, 2], 0.9)).toBeCloseTo(3.7, 12);
  });

  it("MAD is unscaled", () => {
    expect(mad(decodeTps)).toBeCloseTo(0.7, 12); // scipy.stats.median_abs_deviation(x)
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(geometricMean([1, 4, 16])).toBeCloseTo(4, 12);
    expect(geometricMean([2, 0.5])).toBeCloseTo(1, 12);
    expect(() => geometricMean([])).toThrow(RangeError);
    expect(() => geometricMean([1, 0])).toThrow(/non-positive/);
  });

  it("rejects empty and non-finite samples", () => {
    expect(() => median([])).toThrow(/empty/);
    expect(() => median([1, Number.NaN])).toThrow(/non-finite/);
    expect(() => quantile([1, 2], 1.5)).toThrow(/p must be/);
  });
});

describe("normal tail", () => {
  it("erfc and the normal survival function match scipy.special.erfc / scipy.stats.norm.sf", () => {
    expect(erfc(0.5)).toBeCloseTo(0.4795001221869535, 6); // scipy.special.erfc(0.5)
    expect(erfc(-1)).toBeCloseTo(1.8427007929497148, 6); // scipy.special.erfc(-1)
    expect(normalSf(1.959963984540054) / 0.025).toBeCloseTo(1, 6); // norm.sf(norm.ppf(0.975))
    expect(normalSf(5) / 2.866515718791939e-7).toBeCloseTo(1, 5); // norm.sf(5)
  });
});

describe("bootstrap confidence intervals", () => {
  // 11 values: the bootstrap median of a resample is an order statistic x₍ₖ₎, and
  // P(median ≤ x₍ₖ₎) = P(Binomial(11, k/11) ≥ 6) exactly. Those CDF values (scipy.stats.binom.sf(5, 11, k/11)):
  // k=2: 0.0072, k=3: 0.0512 → the 2.5 % quantile is x₍₃₎ = 39.8; k=8: 0.9488, k=9: 0.9928 → the
  // 97.5 % quantile is x₍₉₎ = 41.8. scipy.stats.bootstrap((x,), np.median, method="percentile") agrees.
  const eleven = [38.9, 39.4, 39.8, 40.0, 40.3, 40.5, 40.9, 41.2, 41.8, 44.1, 52.3];

  it("median CI equals the exact bootstrap distribution's 2.5 % and 97.5 % points", () => {
    const ci = bootstrapMedianCi(eleven, { seed: 7 });
    expect(ci.estimate).toBe(40.5);
    expect(ci.low).toBe(39.8);
    expect(ci.high).toBe(41.8);
    expect(ci.resamples).toBe(10_000);
    expect(ci.confidence).toBe(0.95);
  });

  it("is deterministic for a seed", () => {
    expect(bootstrapMedianCi(decodeTps, { seed: 3 })).toEqual(bootstrapMedianCi(decodeTps, { seed: 3 }));
  });

  it("a constant sample has a zero-width interval", () => {
    const ci = bootstrapMedianCi([5, 5, 5]);
    expect([ci.low, ci.estimate, ci.high]).toEqual([5, 5, 5]);
  });

  it("ratio-of-medians CI lands on the exact bootstrap distribution's quantiles", () => {
    const numerator = [44.0, 45.1, 45.9, 46.3, 47.2, 48.0, 49.5];
    // The exact distribution of median(y*) / median(x*) is the product of the two order-statistic laws
    // above, enumerated over all 7 × 11 pairs with numpy and scipy.stats.binom: its CDF passes 0.025 between the support
    // points 1.09181 (0.0198) and 1.09466 (0.0317), and 0.975 between 1.19797 (0.9734) and 1.2 (0.9853).
    // A Monte Carlo check with numpy (400,000 resamples) gives [1.09466, 1.2]. With 10,000 resamples
    // the interpolated quantiles must lie within the neighbouring support points.
    const ci = bootstrapMedianRatioCi(numerator, eleven, { seed: 11 });
    expect(ci.estimate).toBeCloseTo(46.3 / 40.5, 12);
    expect(ci.low).toBeGreaterThanOrEqual(1.09181);
    expect(ci.low).toBeLessThanOrEqual(1.09809);
    expect(ci.high).toBeGreaterThanOrEqual(1.19796);
    expect(ci.high).toBeLessThanOrEqual(1.20146);
  });
});

describe("Mann-Whitney U", () => {
  it("exact p without ties (scipy.stats.mannwhitneyu, method auto → exact)", () => {
    const fast = [40.1, 41.3, 39.8, 40.6, 41.0];
    const slow = [37.2, 38.0, 38.9, 37.5, 38.4, 39.0];
    const result = mannWhitneyU(fast, slow);
    expect(result.method).toBe("exact");
    expect(result.u1).toBe(30); // statistic=30.0
    expect(result.p).toBeCloseTo(0.004329004329004329, 12); // = 2 / C(11, 5) by hand: complete separation
  });

  it("3 against 3 can never go below p = 0.1", () => {
    const result = mannWhitneyU([10, 11, 12], [7, 8, 9]);
    expect(result.p).toBeCloseTo(0.1, 12); // scipy: 0.1; by hand 2 / C(6, 3) = 2/20
  });

  it("asymptotic p with ties (tie and continuity corrections)", () => {
    const a = [1, 2, 2, 3, 4, 5, 5, 6, 7, 8];
    const b = [3, 4, 5, 6, 6, 7, 8, 9, 10, 11, 12];
    const result = mannWhitneyU(a, b);
    expect(result.method).toBe("asymptotic");
    expect(result.u1).toBe(23); // statistic=23.0
    expect(result.p).toBeCloseTo(0.025908184417653902, 6); // pvalue
  });

  it("asymptotic p for larger samples without ties", () => {
    const a = [106.123, 92.333, 101.254, 98.297, 98.642, 99.353, 93.94, 99.304, 97.404, 109.969];
    const b = [96.677, 94.942, 95.156, 93.996, 92.835, 94.828, 97.446, 95.284, 98.873, 95.401, 96.073, 100.637];
    const result = mannWhitneyU(a, b);
    expect(result.method).toBe("asymptotic");
    expect(result.u1).toBe(88);
    expect(result.p).toBeCloseTo(0.06978613338769903, 6); // scipy auto (asymptotic): 0.06978613338769903
  });

  it("is symmetric in its arguments and gives p = 1 for identical samples", () => {
    expect(mannWhitneyU([1, 2, 3], [4, 5, 6, 7]).p).toBeCloseTo(mannWhitneyU([4, 5, 6, 7], [1, 2, 3]).p, 14);
    expect(mannWhitneyU([3, 3, 3], [3, 3, 3]).p).toBe(1);
  });
});
