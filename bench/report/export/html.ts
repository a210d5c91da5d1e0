import type { Block, Exporter, ReportDocument, Section, Table, Text } from "../document.ts";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function inline(text: Text): string {
  return text.map((span) => (typeof span === "string" ? escapeHtml(span) : `<code>${escapeHtml(span.code)}</code>`)).join("");
}

function htmlTable(table: Table): string {
  const align = (i: number) => (table.numeric[i] ? ' class="num"' : "");
  const head = table.headers.map((h, i) => `<th${align(i)}>${escapeHtml(h)}</th>`).join("");
  const body = table.rows.map((row) => `<tr>${row.map((c, i) => `<td${align(i)}>${escapeHtml(c)}</td>`).join("")}</tr>`).join("\n");
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

function block(b: Block): string {
  switch (b.kind) {
    case "paragraph":
      return `<p>${inline(b.text)}</p>`;
    case "banner":
      return `<p class="banner"><strong>${escapeHtml(b.title)}</strong> ${inline(b.text)}</p>`;
    case "facts":
      return `<dl>${b.facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("")}</dl>`;
    case "table":
      return htmlTable(b.table);
    case "list":
      return `<ul>${b.items.map((item) => `<li>${inline(item)}</li>`).join("")}</ul>`;
    case "warnings":
      return `<ul>${b.warnings.map((w) => `<li class="${w.level}"><strong>${w.level}</strong> (${escapeHtml(w.subject)}): ${escapeHtml(w.message)}</li>`).join("\n")}</ul>`;
    case "charts":
      // Inline base64 PNGs: the page is one self-contained file.
      return b.charts
        .map((chart) => `<figure><img src="data:image/png;base64,${chart.png.toString("base64")}" alt="${escapeHtml(chart.alt)}"><figcaption>${escapeHtml(chart.file)}</figcaption></figure>`)
        .join("\n");
    case "attachment":
      return `<p>From <code>${escapeHtml(b.file)}</code>:</p>\n<pre>${escapeHtml(b.text)}</pre>`;
  }
}

function section(s: Section, level: number): string[] {
  return [`<h${level}>${inline(s.title)}</h${level}>`, ...s.blocks.map(block), ...s.subsections.flatMap((sub) => section(sub, level + 1))];
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
export const htmlExporter: Exporter = {
  file: "report.html",
  render(document: ReportDocument): string {
    const parts = [`<h1>${escapeHtml(document.title)}</h1>`, ...document.intro.map(block), ...document.sections.flatMap((s) => section(s, 2))];
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(document.title)}</title>
<style>${STYLE}</style>
</head>
<body>
${parts.join("\n")}
</body>
</html>
`;
  },
};
