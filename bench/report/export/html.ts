import type { ChartImage } from "./charts/index.ts";
import type { ReportOptions } from "./markdown.ts";
import { summariesFor, type ResultsModel } from "./summary.ts";
import { setupFacts, frameworksTable, promptTable, ratioTable, METHOD_NOTES, type Table } from "./tables.ts";
import type { ReportWarning } from "./warnings.ts";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function htmlTable(table: Table): string {
  const align = (i: number) => (table.numeric[i] ? ' class="num"' : "");
  const head = table.headers.map((h, i) => `<th${align(i)}>${escapeHtml(h)}</th>`).join("");
  const body = table.rows.map((row) => `<tr>${row.map((c, i) => `<td${align(i)}>${escapeHtml(c)}</td>`).join("")}</tr>`).join("\n");
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6rem 0 1.2rem; font-size: 0.9rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.3rem 0.55rem; vertical-align: top; }
th { background: #f3f4f6; text-align: left; } .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; } dt { font-weight: 600; }
.banner { background: #fff7e0; border: 1px solid #e8c766; padding: 0.6rem 0.9rem; border-radius: 6px; }
.warning { color: #8a1c1c; } .note { color: #35506b; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
`;

/** report.html: one self-contained page (inline CSS, charts as base64 PNG, no scripts); every text from the results is escaped. */
export function htmlReport(model: ResultsModel, warnings: ReportWarning[], charts: ChartImage[], verify: string, options: ReportOptions = {}): string {
  const parts: string[] = [];
  parts.push(`<h1>qwen3-bench report</h1>`, `<p>Results: ${model.sources.map((s) => `<code>${escapeHtml(s)}</code>`).join(", ")}</p>`);
  if (model.files.some((f) => f.results.model.synthetic)) {
    parts.push(`<p class="banner"><strong>Synthetic weights.</strong> The model's weights are seeded random numbers (<code>qwen3-bench synth</code>): speeds are those of the real architecture, the generated text is meaningless.</p>`);
  }
  parts.push(`<h2>Setup</h2>`, `<dl>${setupFacts(model).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("")}</dl>`, htmlTable(frameworksTable(model)));
  parts.push(`<h2>Decode speed per prompt</h2>`);
  for (const promptId of model.promptIds) {
    const first = summariesFor(model, promptId)[0];
    parts.push(`<h3>Prompt <code>${escapeHtml(promptId)}</code> (${first.promptTokens} prompt tokens, ${first.tokensGenerated} new tokens)</h3>`, htmlTable(promptTable(model, promptId)));
  }
  const ratios = ratioTable(model, options.baseline);
  if (ratios) {
    parts.push(`<h2>Relative to ${escapeHtml(ratios.baseline)}</h2>`, `<p>Ratio of median decode tok/s (above 1 = faster than ${escapeHtml(ratios.baseline)}).</p>`, htmlTable(ratios.table));
  }
  if (charts.length) {
    parts.push(`<h2>Charts</h2>`);
    for (const chart of charts) {
      parts.push(`<figure><img src="data:image/png;base64,${chart.png.toString("base64")}" alt="${escapeHtml(chart.alt)}"><figcaption>${escapeHtml(chart.file)}</figcaption></figure>`);
    }
  }
  parts.push(`<h2>Warnings</h2>`);
  parts.push(
    warnings.length === 0
      ? "<p>None.</p>"
      : `<ul>${warnings.map((w) => `<li class="${w.level}"><strong>${w.level}</strong> (${escapeHtml(w.subject)}): ${escapeHtml(w.message)}</li>`).join("\n")}</ul>`,
  );
  parts.push(`<h2>Token agreement</h2>`, `<pre>${escapeHtml(verify)}</pre>`);
  parts.push(`<h2>Method</h2>`, `<ul>${METHOD_NOTES.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qwen3-bench report</title>
<style>${STYLE}</style>
</head>
<body>
${parts.join("\n")}
</body>
</html>
`;
}
