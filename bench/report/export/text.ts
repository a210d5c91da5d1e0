import type { Table } from "../document.ts";

/** A table as aligned plain text for a terminal: numeric columns right-aligned, a dashed rule under the headers. */
export function textTable(table: Table): string {
  const widths = table.headers.map((h, i) => Math.max(h.length, ...table.rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((cell, i) => (table.numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(table.headers), line(widths.map((w) => "-".repeat(w))), ...table.rows.map(line)].join("\n");
}
