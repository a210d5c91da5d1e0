import type { Block, Exporter, ReportDocument, Section, Table, Text } from "../document.ts";

/** Makes text safe in Markdown, table cells included: no raw HTML, no cell breaks. */
const escape = (text: string) => text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ").replace(/</g, "&lt;");

function inline(text: Text): string {
  return text.map((span) => (typeof span === "string" ? escape(span) : `\`${span.code}\``)).join("");
}

export function markdownTable(table: Table): string {
  const header = `| ${table.headers.map(escape).join(" | ")} |`;
  const rule = `| ${table.numeric.map((n) => (n ? "---:" : "---")).join(" | ")} |`;
  return [header, rule, ...table.rows.map((row) => `| ${row.map(escape).join(" | ")} |`)].join("\n");
}

function block(b: Block): string {
  switch (b.kind) {
    case "paragraph":
      return inline(b.text);
    case "banner":
      return `> **${escape(b.title)}** ${inline(b.text)}`;
    case "facts":
      return b.facts.map(([label, value]) => `- **${escape(label)}:** ${escape(value)}`).join("\n");
    case "table":
      return markdownTable(b.table);
    case "list":
      return b.items.map((item) => `- ${inline(item)}`).join("\n");
    case "warnings":
      return b.warnings.map((w) => `- **${w.level}** (${escape(w.subject)}): ${escape(w.message)}`).join("\n");
    case "charts":
      // The PNGs are written beside report.md.
      return b.charts.map((chart) => `![${chart.file}](${chart.file})`).join("\n\n");
    case "attachment": {
      const fence = "`".repeat(Math.max(3, ...[...b.text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
      return `From [\`${b.file}\`](${b.file}):\n\n${fence}text\n${b.text.trimEnd()}\n${fence}`;
    }
  }
}

function section(s: Section, level: number): string[] {
  return [`${"#".repeat(level)} ${inline(s.title)}`, ...s.blocks.map(block), ...s.subsections.flatMap((sub) => section(sub, level + 1))];
}

/** report.md: the document as GitHub-flavoured Markdown, charts as links to the PNGs beside it. */
export const markdownExporter: Exporter = {
  file: "report.md",
  render(document: ReportDocument): string {
    const parts = [`# ${escape(document.title)}`, ...document.intro.map(block), ...document.sections.flatMap((s) => section(s, 2))];
    return parts.join("\n\n") + "\n";
  },
};
