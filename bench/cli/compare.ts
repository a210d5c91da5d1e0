import { parseArgs } from "node:util";
import { acrossRuns } from "../report/cases.ts";
import { compareCases } from "../report/comparison.ts";
import { textTable } from "../report/export/text.ts";
import { provenanceDifferences } from "../report/provenance.ts";
import { loadResults } from "../report/summary.ts";
import { comparisonTable, decisionRule } from "../report/tables.ts";
import { decide, GATE_OPTIONS, GATE_USAGE, parseGate, refuseRestarts } from "./gate.ts";

export const COMPARE_USAGE = `qwen3-bench compare BASELINE NEW [--noise 0.02] [--alpha 0.05] [--statistic median|mean|p10] [--allow-restarts]

Compares decode speed of two benchmark runs (results folders or files) per (framework, prompt) from
every decode step of every timed run: the ratio NEW/BASELINE of the median step latency (--statistic)
with its 1 − alpha interval from a two-stage bootstrap (runs drawn with replacement, then steps within
each drawn run); per framework with several prompts, also over all its prompts (the geometric mean
of their ratios, its interval from their independent resamples). Exits 1 when, for some case or
for a framework's prompts together, the whole interval lies below 1 − noise (a slowdown beyond the
noise band); exits 2 without a verdict when a compared case had a runner restart, unless
--allow-restarts. ${GATE_USAGE}`;

export function compareCommand(argv: string[]): void {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: GATE_OPTIONS });
  if (positionals.length !== 2) throw new Error(`give exactly two results folders or files\n\n${COMPARE_USAGE}`);
  const gate = parseGate(values);
  const [baselinePath, newPath] = positionals;
  const { cases, relabelled } = acrossRuns(loadResults([baselinePath]), loadResults([newPath]));
  if (cases.length === 0) throw new Error(`no (framework, prompt) pair is in both ${baselinePath} and ${newPath}`);
  const comparisons = compareCases(cases, "independent", gate);

  const labels = relabelled ? ` (label ${cases[0].candidate.label} against ${cases[0].baseline.label})` : "";
  console.log(`decode speed, ${newPath} (candidate) vs ${baselinePath} (baseline)${labels}\n${decisionRule(gate, "independent")}\n`);
  console.log(textTable(comparisonTable(comparisons)));
  const couples = new Map(cases.map((c) => [c.candidate.label, c]));
  for (const [label, c] of couples) {
    const differences = provenanceDifferences(c.baseline.results, c.candidate.results);
    if (differences.length) console.log(`\nwarning: ${label}: besides the label, the two sides differ in:\n${differences.map((d) => `  - ${d}`).join("\n")}`);
  }
  refuseRestarts(cases, values["allow-restarts"]);
  decide(comparisons, "every");
}
