import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderCharts } from "./charts/index.ts";
import type { Exporter } from "./document.ts";
import { htmlExporter } from "./export/html.ts";
import { markdownExporter } from "./export/markdown.ts";
import { reportDocument, VERIFY_FILE, type ReportOptions } from "./layout.ts";
import { loadResultsDir, type ResultsModel } from "./summary.ts";
import { verifyText } from "./verify.ts";
import { collectWarnings } from "./warnings.ts";

/** Every format the report is written in. A new format is one file in export/ plus one entry here. */
export const EXPORTERS: Exporter[] = [markdownExporter, htmlExporter];

export const REPORT_FILES = { markdown: markdownExporter.file, html: htmlExporter.file, verify: VERIFY_FILE } as const;

/** Options of writeReport. */
export interface WriteReportOptions extends ReportOptions {
  /** Results to report instead of loading `dir` (the CLI merges several folders). */
  model?: ResultsModel;
  /** Reference framework of verify.txt; default: the one the agreement records name, else torch, else the first. */
  reference?: string;
}

/**
 * Writes every exporter's file (report.md, report.html), verify.txt and the chart PNGs into `dir`,
 * from the results files in `dir` (or `options.model`). Returns the paths written.
 */
export async function writeReport(dir: string, options: WriteReportOptions = {}): Promise<string[]> {
  const model = options.model ?? loadResultsDir(dir);
  mkdirSync(dir, { recursive: true });
  const charts = await renderCharts(model);
  const verify = verifyText(model, options.reference);
  const document = reportDocument({ model, warnings: collectWarnings(model), charts, verify, options });
  const written: Array<[string, string | Buffer]> = [
    ...charts.map((c): [string, Buffer] => [c.file, c.png]),
    [VERIFY_FILE, verify],
    ...EXPORTERS.map((exporter): [string, string] => [exporter.file, exporter.render(document)]),
  ];
  for (const [file, content] of written) writeFileSync(join(dir, file), content);
  return written.map(([file]) => join(dir, file));
}
