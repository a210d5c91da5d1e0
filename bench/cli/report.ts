import { parseArgs } from "node:util";
import { loadResults } from "../report/summary.ts";
import { writeReport } from "../report/write-report.ts";

export const REPORT_USAGE = `qwen3-bench report DIR... [--out DIR] [--baseline FRAMEWORK] [--reference FRAMEWORK]

Rebuilds report.md, report.html, verify.txt and the charts from results folders (or *_results.json
files). Several merge into one report; it is written into the first DIR unless --out is given.
--baseline picks the framework of the ratio table (default: the run's fastest label).`;

export async function reportCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: "string" }, baseline: { type: "string" }, reference: { type: "string" } },
  });
  if (positionals.length === 0) throw new Error(`give at least one results folder\n\n${REPORT_USAGE}`);
  const model = loadResults(positionals);
  if (model.files.length === 0) throw new Error(`no *_results.json files in ${positionals.join(", ")}`);
  const written = await writeReport(values.out ?? positionals[0], { model, baseline: values.baseline, reference: values.reference });
  for (const file of written) console.log(file);
}
