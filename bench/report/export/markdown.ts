import { setupFacts, frameworksTable, promptTable, ratioTable, METHOD_NOTES, type Table } from "./tables.ts";
import { summariesFor, type ResultsModel } from "./summary.ts";
import type { ReportWarning } from "./warnings.ts";

/** Options shared by the report artefacts. */
export interface ReportOptions {
  /** Label of the ratio table's baseline; default "torch" if present, else the first framework. */
  baseline?: string;
}

/** Makes text safe inside a Markdown table cell. */
const cell = (text: string) => text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ").replace(/</g, "&lt;");

export function markdownTable(table: Table): string {
  const header = `| ${table.headers.map(cell).join(" | ")} |`;
  const rule = `| ${table.numeric.map((n) => (n ? "---:" : "---")).join(" | ")} |`;
  return [header, rule, ...table.rows.map((row) => `| ${row.map(cell).join(" | ")} |`)].join("\n");
}

/** report.md: setup, one table per prompt, ratios against the baseline, warnings, method. */
export function markdownReport(model: ResultsModel, warnings: ReportWarning[], chartFiles: string[], options: ReportOptions = {}): string {
  const out: string[] = ["# qwen3-bench report", "", `Results: ${model.sources.map((s) => `\`${s}\``).join(", ")}`, ""];
  if (model.files.some((f) => f.results.model.synthetic)) {
    out.push("> **Synthetic weights.** The model's weights are seeded random numbers (`qwen3-bench synth`): speeds are those of the real architecture, the generated text is meaningless.", "");
  }
  out.push("## Setup", "");
  for (const [label, value] of setupFacts(model)) out.push(`- **${label}:** ${cell(value)}`);
  out.push("", markdownTable(frameworksTable(model)), "");

  out.push("## Decode speed per prompt", "");
  for (const promptId of model.promptIds) {
    const first = summariesFor(model, promptId)[0];
    out.push(`### Prompt \`${promptId}\` (${first.promptTokens} prompt tokens, ${first.tokensGenerated} new tokens)`, "", markdownTable(promptTable(model, promptId)), "");
  }
  const ratios = ratioTable(model, options.baseline);
  if (ratios) {
    out.push(`## Relative to ${ratios.baseline}`, "", `Ratio of median decode tok/s (above 1 = faster than ${ratios.baseline}).`, "", markdownTable(ratios.table), "");
  }
  if (chartFiles.length) {
    out.push("## Charts", "");
    for (const file of chartFiles) out.push(`![${file}](${file})`, "");
  }
  out.push("## Warnings", "");
  if (warnings.length === 0) out.push("None.");
  for (const w of warnings) out.push(`- **${w.level}** (${cell(w.subject)}): ${cell(w.message)}`);
  out.push("", "Token agreement per prompt: see `verify.txt`.", "", "## Method", "");
  for (const note of METHOD_NOTES) out.push(`- ${note}`);
  return out.join("\n") + "\n";
}
