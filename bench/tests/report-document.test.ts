// One document model, several exporters: the outline is written once (report/layout.ts) and every
// format renders all of it.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { FIXTURES_DIR } from "../harness/paths.ts";
import { code, type ReportDocument } from "../report/document.ts";
import { htmlExporter } from "../report/export/html.ts";
import { markdownExporter } from "../report/export/markdown.ts";
import { reportDocument } from "../report/layout.ts";
import { loadResultsDir } from "../report/summary.ts";
import { verifyText } from "../report/verify.ts";
import { collectWarnings } from "../report/warnings.ts";
import { EXPORTERS } from "../report/write-report.ts";

const model = loadResultsDir(join(FIXTURES_DIR, "results-sample", "run"));
const document = reportDocument({ model, warnings: collectWarnings(model), charts: [], verify: verifyText(model), options: {} });
const plain = (title: ReportDocument["sections"][number]["title"]) => title.map((s) => (typeof s === "string" ? s : s.code)).join("");
const stripTags = (html: string) => html.replace(/<[^>]+>/g, "").replace(/&amp;/g, "&").replace(/&#39;/g, "'");

describe("report document", () => {
  test("the outline: setup, decode speed with one subsection per prompt, ratios, warnings, token agreement, method", () => {
    expect(document.sections.map((s) => plain(s.title))).toEqual(["Setup", "Decode speed per prompt", "Relative to torch", "Warnings", "Token agreement", "Method"]);
    expect(document.sections[1].subsections.map((s) => plain(s.title))).toEqual(model.promptIds.map((id) => expect.stringContaining(`Prompt ${id} (`)));
    expect(document.intro.filter((b) => b.kind === "banner")).toHaveLength(1);
  });

  test.each(EXPORTERS.map((e) => [e.file, e] as const))("%s renders every section and subsection heading, in order, and the banner once", (_, exporter) => {
    const out = exporter.render(document);
    const headings = exporter === markdownExporter
      ? [...out.matchAll(/^#{2,3} (.*)$/gm)].map((m) => m[1].replace(/`/g, ""))
      : [...out.matchAll(/<h[23]>(.*?)<\/h[23]>/g)].map((m) => stripTags(m[1]));
    expect(headings).toEqual(document.sections.flatMap((s) => [plain(s.title), ...s.subsections.map((sub) => plain(sub.title))]));
    expect(out.match(/Synthetic weights\./g)).toHaveLength(1);
  });

  test("a section added to the document appears in every format, escaped by each", () => {
    const extra: ReportDocument = {
      ...document,
      sections: [...document.sections, { title: ["Extra ", code("x<y")], blocks: [{ kind: "paragraph", text: ["a | b <c>"] }], subsections: [] }],
    };
    expect(markdownExporter.render(extra)).toContain("## Extra `x<y`\n\na \\| b &lt;c>\n");
    expect(htmlExporter.render(extra)).toContain("<h2>Extra <code>x&lt;y</code></h2>\n<p>a | b &lt;c&gt;</p>");
  });
});
