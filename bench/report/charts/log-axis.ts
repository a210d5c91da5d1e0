/** A latency axis: scale and axis settings for Vega-Lite, and the words to append to its title. */
export interface LatencyAxis {
  scale: Record<string, unknown>;
  axis: Record<string, unknown>;
  /** "log scale" or "" (linear). */
  note: string;
}

/** Ranges narrower than this factor (max / min) get a linear axis: a log axis would squash them into a sliver. */
const LOG_MIN_SPAN = 4;

/**
 * Domain and tick values of a log-scale axis covering [min, max] (positive), on the 1-2-5 sequence
 * (1, 2, 5, 10, 20, ...) with some room either side, or on powers of ten alone when that would give
 * more than `maxTicks` ticks. Vega's own log ticks crowd and drop labels; explicit values do not.
 */
export function logAxis(min: number, max: number, maxTicks = 9): { domain: [number, number]; values: number[] } {
  const lo = Math.max(min, 1e-6) / 1.15;
  const hi = Math.max(max, lo) * 1.15;
  const steps = (multipliers: number[]) => {
    const values: number[] = [];
    for (let exponent = Math.floor(Math.log10(lo)) - 1; exponent <= Math.ceil(Math.log10(hi)) + 1; exponent++) {
      for (const m of multipliers) values.push(Number((m * 10 ** exponent).toPrecision(12)));
    }
    return values;
  };
  for (const multipliers of [[1, 2, 5], [1]]) {
    const all = steps(multipliers);
    const start = all.filter((v) => v <= lo).at(-1) ?? all[0];
    const end = all.find((v) => v >= hi) ?? all[all.length - 1];
    const values = all.filter((v) => v >= start && v <= end);
    if (values.length <= maxTicks || multipliers.length === 1) return { domain: [start, end], values };
  }
  throw new Error("unreachable");
}

/** Log axis for latencies that span a wide range (CPU and GPU runners side by side), linear otherwise. */
export function latencyAxis(min: number, max: number): LatencyAxis {
  if (min > 0 && max / min >= LOG_MIN_SPAN) {
    const { domain, values } = logAxis(min, max);
    return { scale: { type: "log", domain, nice: false }, axis: { values, format: ",~g" }, note: "log scale" };
  }
  return { scale: { type: "linear", zero: false, nice: true }, axis: { format: ",~g" }, note: "" };
}
