import { existsSync } from "node:fs";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { hostSettings } from "../../harness/settings.ts";

/** Font every chart names; the file is loaded explicitly so rendering does not depend on fontconfig. */
export const CHART_FONT = "DejaVu Sans";

/** Font files tried in order: Debian/Ubuntu's fonts-dejavu-core, Fedora, Homebrew and macOS fallbacks. */
const FONT_CANDIDATES = [
  // BENCH_CHART_FONT: a DejaVuSans.ttf brought along (scripts/offline-pack.sh packs one).
  ...[hostSettings().BENCH_CHART_FONT].filter((font): font is string => font !== undefined),
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
  "/opt/homebrew/share/fonts/DejaVuSans.ttf",
  "/Library/Fonts/DejaVuSans.ttf",
  "/System/Library/Fonts/Supplemental/Arial.ttf",
];

function fontFiles(): string[] {
  const found = FONT_CANDIDATES.filter((f) => existsSync(f));
  const bold = found.map((f) => f.replace("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")).filter((f) => f !== found[0] && existsSync(f));
  return [...found.slice(0, 1), ...bold.slice(0, 1)];
}

/** Shared look: white background, readable sizes, one font. */
export const CHART_CONFIG = {
  background: "white",
  padding: 16,
  font: CHART_FONT,
  title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: "#555", anchor: "start", offset: 12 },
  axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 10, gridColor: "#e6e6e6" },
  legend: { labelFontSize: 12, titleFontSize: 13, symbolSize: 140, labelLimit: 440 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  view: { stroke: "#ccc" },
} as const;

/** One rendered chart. */
export interface RenderedChart {
  svg: string;
  /** PNG bytes at twice the SVG's pixel size (sharp on high-density screens). */
  png: Buffer;
}

/** Compiles a Vega-Lite spec, renders it to SVG with Vega (no canvas), and rasterises it with resvg. */
export async function renderChart(spec: TopLevelSpec): Promise<RenderedChart> {
  const vegaSpec = compile({ ...spec, config: { ...CHART_CONFIG, ...spec.config } } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(vegaSpec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  const files = fontFiles();
  const resvg = new Resvg(svg, {
    fitTo: { mode: "zoom", value: 2 },
    background: "white",
    font: { fontFiles: files, loadSystemFonts: files.length === 0, defaultFontFamily: CHART_FONT, sansSerifFamily: CHART_FONT },
  });
  return { svg, png: Buffer.from(resvg.render().asPng()) };
}
