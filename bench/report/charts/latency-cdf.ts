import type { TopLevelSpec } from "vega-lite";
import { quantileSorted } from "../../stats/quantile.ts";
import type { ResultsModel } from "../summary.ts";
import { latencyAxis } from "./log-axis.ts";
import { chartSubtitle } from "./subtitle.ts";
import { frameworkColourScale } from "./palette.ts";

export const LATENCY_CDF_FILE = "latency_cdf.png";

/** Points per curve: long runs are summarised by this many quantiles so the SVG stays small. */
const CURVE_POINTS = 200;

/** Empirical CDF of per-token decode latency (every decode step of every timed run, TTFT excluded), one panel per prompt. */
export function latencyCdfSpec(model: ResultsModel): TopLevelSpec {
  const values = model.summaries.flatMap((s) => {
    const steps = Float64Array.from(s.runs.flatMap((r) => r.per_token_latencies_ms.slice(1))).sort();
    if (steps.length === 0) return [];
    const points = Math.min(CURVE_POINTS, steps.length);
    return Array.from({ length: points }, (_, i) => {
      const share = points === 1 ? 1 : i / (points - 1);
      return { prompt: s.promptId, framework: s.label, latencyMs: quantileSorted(steps, share), share };
    });
  });
  const axis = latencyAxis(Math.min(...values.map((v) => v.latencyMs)), Math.max(...values.map((v) => v.latencyMs)));
  return {
    title: { text: "Per-token decode latency, cumulative distribution", subtitle: chartSubtitle(model, "every decode step of every timed run (first token excluded); further left is faster, steeper is steadier") },
    data: { values },
    facet: { column: { field: "prompt", type: "nominal", title: "Prompt", sort: model.promptIds } },
    resolve: { scale: { x: "shared" } },
    spec: {
      width: 260,
      height: 260,
      mark: { type: "line", interpolate: "step-after", strokeWidth: 2 },
      encoding: {
        x: { field: "latencyMs", type: "quantitative", title: `Per-token latency (ms${axis.note ? `, ${axis.note}` : ""})`, scale: axis.scale, axis: axis.axis },
        y: { field: "share", type: "quantitative", title: "Share of decode steps ≤ latency", axis: { format: "%" } },
        color: { field: "framework", type: "nominal", title: "Framework", scale: frameworkColourScale(model.labels) },
        order: { field: "share", type: "quantitative" },
      },
    },
  } as TopLevelSpec;
}
