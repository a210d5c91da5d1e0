import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderCharts } from "./charts/index.ts";
import { htmlReport } from "./html.ts";
import { markdownReport, type ReportOptions } from "./markdown.ts";
import { loadResultsDir, type ResultsModel } from "./summary.ts";
import { verifyText } from "./verify.ts";
import { collectWarnings } from "./warnings.ts";

export const REPORT_FILES = { markdown: "report.md", html: "report.html", verify: "verify.txt" } as const;

/** Options of writeReport. */
export interface WriteReportOptions extends ReportOptions {
  /** Results to report instead of loading `dir` (the CLI merges several folders). */
  model?: ResultsModel;
  /** Reference framework of verify.txt; default: the one the agreement records name, else torch, else the first. */
  reference?: string;
}

/**
 * Writes report.md, report.html, verify.txt and the chart PNGs into `dir`, from the results files in
 * `dir` (or `options.model`). Returns the paths written.
 */
export async function writeReport(dir: string, options: WriteReportOptions = {}): Promise<string[]> {
  const model = options.model ?? loadResultsDir(dir);
  mkdirSync(dir, { recursive: true });
  const warnings = collectWarnings(model);
  const charts = await renderCharts(model);
  const verify = verifyText(model, options.reference);
  const written: Array<[string, string | Buffer]> = [
    ...charts.map((c): [string, Buffer] => [c.file, c.png]),
    [REPORT_FILES.verify, verify],
    [REPORT_FILES.markdown, markdownReport(model, warnings, charts.map((c) => c.file), options)],
    [REPORT_FILES.html, htmlReport(model, warnings, charts, verify, options)],
  ];
  for (const [file, content] of written) writeFileSync(join(dir, file), content);
  return written.map(([file]) => join(dir, file));
}
