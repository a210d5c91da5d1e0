import type { TopLevelSpec } from "vega-lite";
import type { ResultsModel } from "../summary.ts";
import { chartSubtitle } from "./subtitle.ts";
import { frameworkColourScale } from "./palette.ts";

export const TTFT_BAR_FILE = "ttft_bar.png";

/**
 * Median time to first token per prompt and framework, min–max over timed runs as error bars. Log scale:
 * a CPU runner's prefill of a long prompt can be a thousand times a GPU's.
 */
export function ttftBarSpec(model: ResultsModel): TopLevelSpec {
  const values = model.summaries.map((s) => {
    const ttfts = s.runs.map((r) => r.ttft_secs * 1000);
    return {
      prompt: `${s.promptId} (${s.promptTokens} tok)`,
      framework: s.label,
      median: s.ttftMs,
      min: Math.min(...ttfts),
      max: Math.max(...ttfts),
      label: s.ttftMs >= 100 ? s.ttftMs.toFixed(0) : s.ttftMs.toFixed(1),
    };
  });
  const promptOrder = model.promptIds.map((id) => values.find((v) => v.prompt.startsWith(`${id} (`))?.prompt ?? id);
  // Bars on a log scale need a positive base: the power of ten below the fastest run; ticks at powers of ten.
  const lowest = Math.floor(Math.log10(Math.max(1e-3, Math.min(...values.map((v) => v.min)))));
  const highest = Math.ceil(Math.log10(Math.max(...values.map((v) => v.max))));
  const decades = Array.from({ length: highest - lowest + 1 }, (_, i) => 10 ** (lowest + i));
  const y = { type: "quantitative" as const, scale: { type: "log" as const, domain: [decades[0], decades[decades.length - 1]] } };
  return {
    title: { text: "Time to first token (median ms, log scale, lower is better)", subtitle: chartSubtitle(model, "prefill of the whole prompt + first argmax; error bars: min–max over timed runs") },
    width: Math.max(360, 70 * model.summaries.length),
    height: 320,
    data: { values },
    encoding: {
      x: { field: "prompt", type: "nominal", title: "Prompt (prompt tokens)", sort: promptOrder, axis: { labelAngle: 0 } },
      xOffset: { field: "framework", type: "nominal", sort: model.labels },
    },
    layer: [
      {
        mark: { type: "bar", width: { band: 0.9 } },
        encoding: {
          y: { ...y, field: "median", title: "Time to first token (ms, log scale)", axis: { values: decades, format: ",~g" } },
          y2: { datum: decades[0] },
          color: { field: "framework", type: "nominal", title: "Framework", scale: frameworkColourScale(model.labels) },
        },
      },
      { mark: { type: "rule", strokeWidth: 1.5, color: "#222" }, encoding: { y: { ...y, field: "min" }, y2: { field: "max" } } },
      { mark: { type: "text", dy: -8, fontSize: 11, color: "#222" }, encoding: { y: { ...y, field: "max" }, text: { field: "label" } } },
    ],
  } as TopLevelSpec;
}
