import type { TopLevelSpec } from "vega-lite";
import { depthRows } from "../depth-rows.ts";
import type { ResultsModel } from "../summary.ts";
import { CONFIDENCE } from "../format.ts";
import { logAxis } from "./log-axis.ts";
import { frameworkColourScale } from "./palette.ts";
import { chartSubtitle } from "./subtitle.ts";

export const DECODE_TPS_BY_DEPTH_FILE = "decode_tps_by_depth.png";

/**
 * Median decode tok/s against KV-cache depth (BENCH_DEPTHS), one line per framework, on a log x
 * axis. The x value is the tokens in the cache when decode starts (the prompt's length), so depth
 * 0 sits at the base prompt's own length rather than at an impossible log(0).
 */
export function decodeTpsByDepthSpec(model: ResultsModel): TopLevelSpec {
  const values = depthRows(model)
    .filter((r) => r.summary !== null)
    .map((r) => ({ framework: r.label, depth: r.depth, cached: r.summary!.promptTokens, median: r.summary!.decodeTps.estimate, low: r.summary!.decodeTps.low, high: r.summary!.decodeTps.high }));
  const { domain, values: ticks } = logAxis(Math.min(...values.map((v) => v.cached)), Math.max(...values.map((v) => v.cached)));
  const x = { field: "cached", type: "quantitative", title: "Tokens in the KV cache when decode starts (depth; log scale)", scale: { type: "log", domain, nice: false }, axis: { values: ticks, format: ",~g" } } as const;
  const color = { field: "framework", type: "nominal", title: "Framework", scale: frameworkColourScale(model.labels) } as const;
  return {
    title: { text: "Decode speed at context depth (median tok/s, higher is better)", subtitle: chartSubtitle(model, `error bars: ${CONFIDENCE} bootstrap CI of the median; a depth a runner could not hold has no point (see the report's depth table)`) },
    width: 480,
    height: 320,
    data: { values },
    encoding: { x, color },
    layer: [
      { mark: { type: "line", strokeWidth: 1.75, point: { size: 45 } }, encoding: { y: { field: "median", type: "quantitative", title: "Decode speed (tokens/s)" } } },
      { mark: { type: "rule", strokeWidth: 1.25 }, encoding: { y: { field: "low", type: "quantitative" }, y2: { field: "high" } } },
    ],
  } as TopLevelSpec;
}
