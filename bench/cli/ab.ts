import { parseArgs } from "node:util";
import { abCases } from "../report/cases.ts";
import { compareCases } from "../report/comparison.ts";
import { textTable } from "../report/export/text.ts";
import { loadResults } from "../report/summary.ts";
import { comparisonTable, decisionRule } from "../report/tables.ts";
import { decide, GATE_OPTIONS, GATE_USAGE, parseGate, refuseRestarts } from "./gate.ts";

export const AB_USAGE = `qwen3-bench ab RESULTS_DIR [--base LABEL --head LABEL] [--noise 0.02] [--alpha 0.05] [--statistic median] [--allow-restarts]

Gates an A/B run: two labels of one framework measured in one run (builds burn-cpu@base and
burn-cpu@head, or runner flags such as burn-cuda[decode-graph=off]), their requests interleaved
(BENCH_INTERLEAVE=on). Timed run i of each label on a prompt is pair i. Per prompt, and pooled over
the prompts: the median over pairs of base ÷ head median step latency (head's speed relative to
base), with its bootstrap interval over the pairs. The gate reads the pooled row (a single prompt is
its own pool) and exits 1 when its whole interval lies below 1 − noise (head slower beyond the noise
band); exits 2 without a verdict when a runner of either label was restarted, unless
--allow-restarts. Without --base/--head, every framework that ran as several labels is paired with
its plain label or @base. ${GATE_USAGE}`;

export function abCommand(argv: string[]): void {
  const options = { base: { type: "string" }, head: { type: "string" }, ...GATE_OPTIONS } as const;
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options });
  if (positionals.length !== 1) throw new Error(`give one results folder\n\n${AB_USAGE}`);
  if ((values.base === undefined) !== (values.head === undefined)) throw new Error("--base and --head go together");
  const gate = parseGate(values);
  const model = loadResults(positionals);
  const cases = abCases(model, values.base === undefined ? undefined : { baseline: values.base, candidate: values.head! });
  const comparisons = compareCases(cases, "paired", gate);
  if (comparisons.length === 0) throw new Error(`no A/B pair in ${positionals[0]}: it needs two labels of one framework with timed runs on a common prompt (labels: ${model.labels.join(", ")})`);

  console.log(`A/B pairs in ${positionals[0]}\n${decisionRule(gate, "paired")}\n`);
  console.log(textTable(comparisonTable(comparisons)));
  if (comparisons.some((c) => !c.interleaved)) console.log("\nnote: some pairs were not sent back to back (BENCH_INTERLEAVE=off): host drift between the labels' blocks is not cancelled.");
  refuseRestarts(cases, values["allow-restarts"]);
  decide(comparisons, "pooled");
}
