import type { TopLevelSpec } from "vega-lite";
import type { ResultsModel } from "../summary.ts";
import { CONFIDENCE } from "../format.ts";
import { DECODE_TPS_BAR_FILE, decodeTpsBarSpec } from "./decode-tps-bar.ts";
import { DECODE_TPS_BY_DEPTH_FILE, decodeTpsByDepthSpec } from "./decode-tps-by-depth.ts";
import { LATENCY_BY_POSITION_FILE, latencyByPositionSpec } from "./latency-by-position.ts";
import { LATENCY_CDF_FILE, latencyCdfSpec } from "./latency-cdf.ts";
import { renderChart } from "./render.ts";
import { TTFT_BAR_FILE, ttftBarSpec } from "./ttft-bar.ts";

/** A chart of the report: its file name, alt text, and how to build its spec from the model. */
export interface ChartDefinition {
  file: string;
  alt: string;
  spec: (model: ResultsModel) => TopLevelSpec;
  /** Whether the model has what the chart shows; absent: always. */
  applies?: (model: ResultsModel) => boolean;
}

/** Every chart, in report order. A new chart is one file in this folder plus one line here. */
export const CHARTS: ChartDefinition[] = [
  { file: DECODE_TPS_BAR_FILE, alt: `Median decode tokens per second per prompt and framework, with ${CONFIDENCE} confidence intervals`, spec: decodeTpsBarSpec },
  { file: TTFT_BAR_FILE, alt: "Median time to first token per prompt and framework", spec: ttftBarSpec },
  { file: LATENCY_CDF_FILE, alt: "Cumulative distribution of per-token decode latency per prompt and framework", spec: latencyCdfSpec },
  {
    file: DECODE_TPS_BY_DEPTH_FILE,
    alt: "Median decode tokens per second against KV-cache depth per framework, log depth axis",
    spec: decodeTpsByDepthSpec,
    applies: (model) => model.summaries.some((s) => s.depth !== null),
  },
  { file: LATENCY_BY_POSITION_FILE, alt: "Per-token decode latency by generated-token position per prompt and framework", spec: latencyByPositionSpec },
];

/** A chart rendered for the report. */
export interface ChartImage {
  file: string;
  alt: string;
  png: Buffer;
}

/** Renders every chart of the model (none when it has no summaries). */
export async function renderCharts(model: ResultsModel): Promise<ChartImage[]> {
  if (model.summaries.length === 0) return [];
  const images: ChartImage[] = [];
  for (const chart of CHARTS.filter((c) => c.applies?.(model) ?? true)) images.push({ file: chart.file, alt: chart.alt, png: (await renderChart(chart.spec(model))).png });
  return images;
}
