import type { TopLevelSpec } from "vega-lite";
import { median } from "../../stats/median.ts";
import type { ResultsModel } from "../summary.ts";
import { latencyAxis } from "./log-axis.ts";
import { chartSubtitle } from "./subtitle.ts";
import { frameworkColourScale } from "./palette.ts";

export const LATENCY_BY_POSITION_FILE = "latency_by_position.png";

/** Median (over timed runs) latency of each generated token after the first, by position, one panel per prompt. */
export function latencyByPositionSpec(model: ResultsModel): TopLevelSpec {
  const values = model.summaries.flatMap((s) => {
    const length = Math.min(...s.runs.map((r) => r.per_token_latencies_ms.length));
    return Array.from({ length: Math.max(0, length - 1) }, (_, k) => {
      const position = k + 1;
      return { prompt: s.promptId, framework: s.label, position, latencyMs: median(s.runs.map((r) => r.per_token_latencies_ms[position])) };
    });
  });
  const axis = latencyAxis(Math.min(...values.map((v) => v.latencyMs)), Math.max(...values.map((v) => v.latencyMs)));
  return {
    title: { text: "Per-token decode latency by position", subtitle: chartSubtitle(model, "median over timed runs at each generated-token position; a rising line shows the growing KV cache") },
    data: { values },
    facet: { column: { field: "prompt", type: "nominal", title: "Prompt", sort: model.promptIds } },
    spec: {
      width: 260,
      height: 260,
      mark: { type: "line", strokeWidth: 1.75, point: false },
      encoding: {
        x: { field: "position", type: "quantitative", title: "Generated token position", scale: { nice: false } },
        y: { field: "latencyMs", type: "quantitative", title: `Latency (ms${axis.note ? `, ${axis.note}` : ""})`, scale: axis.scale, axis: axis.axis },
        color: { field: "framework", type: "nominal", title: "Framework", scale: frameworkColourScale(model.labels) },
      },
    },
  } as TopLevelSpec;
}
