import { describe, expect, it } from "vitest";
import { gateVerdict } from "../stats/gate.ts";
import { geometricMeanRatioCi, hierarchicalRatioCi, hierarchicalRatioResamples, isPooledStatistic, pooledStatistic, statisticQuantile } from "../stats/hierarchical-bootstrap.ts";

// Expected intervals below come from enumerating every equally likely two-stage resample by hand (or
// with Python's fractions module, enumeration quoted); with 10,000 resamples each tail quantile falls
// inside an atom of the exact distribution that holds more than the tail's mass, so the bootstrap
// lands exactly on it.
describe("hierarchical (two-stage) bootstrap of a ratio", () => {
  it("median: the interval is the exact two-stage distribution's 2.5 % and 97.5 % points", () => {
    // Runs [1, 3] and [5, 7]: 2 run draws × 2 step draws each = 4 × 16 = 64 equally likely resamples of
    // 4 values. Their medians: 1 (5/64), 2 (6/64), 3 (11/64), 4 (20/64), 5 (11/64), 6 (6/64), 7 (5/64).
    // 5/64 = 7.8 % > 2.5 %, so the 95 % interval of median / 4 is [1/4, 7/4]. Resampling runs alone
    // would give medians 2, 4, 6 only: [0.5, 1.5].
    const ci = hierarchicalRatioCi([[1, 3], [5, 7]], [[4]], { seed: 1 });
    expect(ci.estimate).toBe(1); // median(1, 3, 5, 7) / 4
    expect(ci.low).toBe(0.25);
    expect(ci.high).toBe(1.75);
    // 80 %: the 10 % point falls in the atom at 2 (cumulative 7.8 % → 17.2 %), the 90 % point in 6.
    const ci80 = hierarchicalRatioCi([[1, 3], [5, 7]], [[4]], { seed: 1, confidence: 0.8 });
    expect([ci80.low, ci80.high]).toEqual([0.5, 1.5]);
  });

  it("steps of one run stay together: a run's shift is not averaged away as independent steps", () => {
    // Runs [1, 1, 1] and [9, 9, 9]: the run draws are (1st, 1st) 1/4, mixed 1/2, (2nd, 2nd) 1/4, and
    // every step draw inside a run gives the same value, so the medians are 1, 5, 9 with 1/4, 1/2, 1/4:
    // the 30 % and 70 % points are both 5. Six independent steps would put 22/64 on 1 and on 9, moving
    // the 30 % point to 1 and the 70 % point to 9.
    const ci = hierarchicalRatioCi([[1, 1, 1], [9, 9, 9]], [[5]], { seed: 2, confidence: 0.4 });
    expect([ci.low, ci.high]).toEqual([1, 1]);
  });

  it("mean: step draws inside a run", () => {
    // One run [2, 4]: means 2 (1/4), 3 (1/2), 4 (1/4); over a constant 3: [2/3, 4/3].
    const ci = hierarchicalRatioCi([[2, 4]], [[3, 3, 3]], { statistic: "mean" });
    expect(ci.estimate).toBe(1);
    expect(ci.low).toBeCloseTo(2 / 3, 12);
    expect(ci.high).toBeCloseTo(4 / 3, 12);
  });

  it("ratio orientation: numerator baseline latencies over candidate latencies is the candidate's speed ratio", () => {
    const baseline = [[10, 11, 12], [10.5, 11.5, 12.5], [9.5, 10.5, 11.5]];
    const slower = baseline.map((run) => run.map((ms) => ms * 1.25));
    const ci = hierarchicalRatioCi(baseline, slower);
    expect(ci.estimate).toBeCloseTo(0.8, 12);
    expect(ci.low).toBeLessThan(0.8);
    expect(ci.high).toBeGreaterThan(0.8);
    expect(ci.high).toBeLessThan(1);
  });

  it("pooled statistics, determinism and bad input", () => {
    expect(pooledStatistic([[1, 2], [3, 10]])).toBe(2.5);
    expect(pooledStatistic([[1, 2], [3, 10]], "mean")).toBe(4);
    // p25 of [1, 2, 3, 10]: h = 3 · 0.25 = 0.75, 1 + 0.75 · (2 − 1) = 1.75 (numpy's linear method).
    expect(pooledStatistic([[1, 2], [3, 10]], "p25")).toBe(1.75);
    expect([statisticQuantile("mean"), statisticQuantile("median"), statisticQuantile("p10"), statisticQuantile("p2.5")]).toEqual([null, 0.5, 0.1, 0.025]);
    for (const bad of ["p0", "p100", "mode", "10"]) expect(() => statisticQuantile(bad)).toThrow(/statistic must be/);
    expect(["mean", "median", "p10", "p2.5", "p0", "p100", "mode", "10"].map(isPooledStatistic)).toEqual([true, true, true, true, false, false, false, false]);
    const runs = [[3, 4, 5], [4, 5, 6]];
    expect(hierarchicalRatioCi(runs, runs, { seed: 9 })).toEqual(hierarchicalRatioCi(runs, runs, { seed: 9 }));
    expect(() => hierarchicalRatioCi([], [[1]])).toThrow(/numerator: no runs/);
    expect(() => hierarchicalRatioCi([[1]], [[1], []])).toThrow(/denominator: run 1 has no values/);
    expect(() => hierarchicalRatioCi([[1, Number.NaN]], [[1]])).toThrow(/non-finite/);
    expect(() => hierarchicalRatioCi([[1]], [[1]], { confidence: 1 })).toThrow(/confidence/);
  });
});

describe("pooling prompts: geometric mean of ratios", () => {
  it("averages resample by resample in log space (known values)", () => {
    // Resample b of the pool is the geometric mean of the parts' resample b: [1,2,4] with [4,2,1] is 2, 2, 2.
    const pooled = geometricMeanRatioCi([{ estimate: 2, ratios: Float64Array.of(1, 2, 4) }, { estimate: 8, ratios: Float64Array.of(4, 2, 1) }], 0.95);
    expect(pooled.estimate).toBeCloseTo(4, 12);
    expect([pooled.low, pooled.high]).toEqual([2, 2]);
    expect(() => geometricMeanRatioCi([{ estimate: 1, ratios: Float64Array.of(1) }, { estimate: 1, ratios: Float64Array.of(1, 1) }], 0.95)).toThrow(/different numbers of resamples/);
  });

  it("independent streams give different draws; one prompt pooled alone is that prompt's interval", () => {
    const a = [[10, 11, 12], [10, 10, 13]];
    const b = [[11, 12, 12], [12, 11, 14]];
    const first = hierarchicalRatioResamples(a, b, { resamples: 500 });
    const second = hierarchicalRatioResamples(a, b, { resamples: 500, stream: 1 });
    expect(Array.from(first.ratios)).not.toEqual(Array.from(second.ratios));
    const alone = geometricMeanRatioCi([first], 0.95);
    const direct = hierarchicalRatioCi(a, b, { resamples: 500 });
    expect(alone.low).toBeCloseTo(direct.low, 12);
    expect(alone.high).toBeCloseTo(direct.high, 12);
  });
});

describe("gate verdict", () => {
  it("slower only when the whole interval is below 1 − band", () => {
    expect(gateVerdict({ low: 0.9, high: 0.979 }, 0.02)).toBe("slower");
    expect(gateVerdict({ low: 0.9, high: 0.98 }, 0.02)).toBe("inconclusive");
    expect(gateVerdict({ low: 1.021, high: 1.1 }, 0.02)).toBe("faster");
    expect(gateVerdict({ low: 0.98, high: 1.02 }, 0.02)).toBe("within noise");
    expect(gateVerdict({ low: 0.97, high: 1.01 }, 0.02)).toBe("inconclusive");
    expect(gateVerdict({ low: 0.97, high: 0.99 }, 0)).toBe("slower");
    expect(() => gateVerdict({ low: 1, high: 1 }, 1)).toThrow(/noise band/);
  });
});
