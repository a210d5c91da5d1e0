import type { TopLevelSpec } from "vega-lite";
import type { ResultsModel } from "../summary.ts";
import { CONFIDENCE } from "../format.ts";
import { chartSubtitle } from "./subtitle.ts";
import { frameworkColourScale } from "./palette.ts";

export const DECODE_TPS_BAR_FILE = "decode_tps_bar.png";

/** Median decode tok/s per prompt and framework, with the 95 % bootstrap CI as error bars. */
export function decodeTpsBarSpec(model: ResultsModel): TopLevelSpec {
  const values = model.summaries.map((s) => ({
    prompt: s.promptId,
    framework: s.label,
    median: s.decodeTps.estimate,
    low: s.decodeTps.low,
    high: s.decodeTps.high,
    label: s.decodeTps.estimate.toFixed(1),
  }));
  const x = { field: "prompt", type: "nominal", title: "Prompt", sort: model.promptIds, axis: { labelAngle: 0 } } as const;
  const xOffset = { field: "framework", type: "nominal", sort: model.labels } as const;
  return {
    title: { text: "Decode speed (median tok/s, higher is better)", subtitle: chartSubtitle(model, `error bars: ${CONFIDENCE} bootstrap CI of the median`) },
    width: Math.max(360, 70 * model.summaries.length),
    height: 320,
    data: { values },
    encoding: { x, xOffset },
    layer: [
      {
        mark: { type: "bar", width: { band: 0.9 } },
        encoding: {
          y: { field: "median", type: "quantitative", title: "Decode speed (tokens/s)" },
          color: { field: "framework", type: "nominal", title: "Framework", scale: frameworkColourScale(model.labels) },
        },
      },
      { mark: { type: "rule", strokeWidth: 1.5, color: "#222" }, encoding: { y: { field: "low", type: "quantitative" }, y2: { field: "high" } } },
      { mark: { type: "tick", thickness: 1.5, color: "#222", size: 8 }, encoding: { y: { field: "low", type: "quantitative" } } },
      { mark: { type: "tick", thickness: 1.5, color: "#222", size: 8 }, encoding: { y: { field: "high", type: "quantitative" } } },
      { mark: { type: "text", dy: -8, fontSize: 11, color: "#222" }, encoding: { y: { field: "high", type: "quantitative" }, text: { field: "label" } } },
    ],
  } as TopLevelSpec;
}
