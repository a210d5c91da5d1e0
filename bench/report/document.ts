import type { ChartImage } from "./charts/index.ts";
import type { ReportWarning } from "./warnings.ts";

/**
 * The report as one document, independent of its format: layout.ts builds it once from the results,
 * and each exporter (export/markdown.ts, export/html.ts) renders every part of it its own way,
 * as hyperfine's export/ writes one table layout for every markup format.
 */

/** Inline text: plain strings (escaped by each exporter) and code spans. */
export type Text = Array<string | { code: string }>;

/** A code span inside Text. */
export const code = (text: string): { code: string } => ({ code: text });

/** A table as text cells. */
export interface Table {
  headers: string[];
  rows: string[][];
  /** Columns holding numbers (right-aligned). */
  numeric: boolean[];
}

/** One part of a section, in reading order. */
export type Block =
  | { kind: "paragraph"; text: Text }
  /** A call-out shown above everything else: what makes every number of the report read differently. */
  | { kind: "banner"; title: string; text: Text }
  /** Label/value pairs (the setup facts). */
  | { kind: "facts"; facts: Array<[string, string]> }
  | { kind: "table"; table: Table }
  | { kind: "list"; items: Text[] }
  | { kind: "warnings"; warnings: ReportWarning[] }
  | { kind: "charts"; charts: ChartImage[] }
  /** A text artefact written beside the report (verify.txt): shown in full, named by its file. */
  | { kind: "attachment"; file: string; text: string };

/** A titled section; subsections are one heading level deeper. */
export interface Section {
  title: Text;
  blocks: Block[];
  subsections: Section[];
}

export interface ReportDocument {
  title: string;
  /** Blocks before the first section: where the results came from, banners. */
  intro: Block[];
  sections: Section[];
}

/** One output format: a file name and how to render the document into it. */
export interface Exporter {
  file: string;
  render(document: ReportDocument): string;
}
