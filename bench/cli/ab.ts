import { parseArgs } from "node:util";
import { formatPercent, formatRatio } from "../report/format.ts";
import { ALL_PROMPTS, pairedComparisons, pairVerdict, speedFromTimeRatio, type PairedComparison, type PairVerdict } from "../report/pairing.ts";
import { loadResults, type ResultsModel } from "../report/summary.ts";
import { pairTable } from "../report/tables.ts";

export const AB_USAGE = `qwen3-bench ab RESULTS_DIR [--base LABEL --head LABEL] [--noise 0.02] [--allow-restarts]

Gates an A/B run: two labels of one framework measured in one run (builds burn-cpu@base and
burn-cpu@head, or runner flags such as burn-cuda[decode-graph=off]), their requests interleaved
(BENCH_INTERLEAVE=on). Timed run i of each label on a prompt is pair i. Per prompt, and pooled over
the prompts: the median over pairs of head ÷ base decode tok/s and of head ÷ base median step
latency, with 95 % bootstrap intervals over the pairs. The gate reads the pooled step-latency ratio
(the per-run median step shrugs off a burst of host load within a run; a single prompt is its own
pool) and exits 1 when head is slower by more than the noise band (--noise, relative) with an
interval that excludes 1, or when a runner of either label was restarted (a case lost a request;
--allow-restarts gates anyway). Without --base/--head, every framework that ran as several labels
is paired with its plain label or @base.`;

/** One row of the A/B table. */
export interface AbRow {
  comparison: PairedComparison;
  /** True for the row the gate decides on: the pooled one, or the only prompt. */
  gated: boolean;
  verdict: PairVerdict | "restarted";
}

/** The rows of the A/B gate: per prompt, then pooled; a restart on either label makes its rows "restarted" unless allowed. */
export function abRows(model: ResultsModel, comparisons: PairedComparison[], noise: number, allowRestarts: boolean): AbRow[] {
  const restarted = (label: string, promptId: string) =>
    model.files.find((f) => f.label === label)?.results.restarts.some((r) => promptId === ALL_PROMPTS || r.prompt_id === promptId || r.prompt_id === null) ?? false;
  return comparisons.map((c) => {
    const pooledExists = comparisons.some((o) => o.promptId === ALL_PROMPTS && o.baseline === c.baseline && o.candidate === c.candidate);
    const gated = c.promptId === ALL_PROMPTS || !pooledExists;
    const lostRequest = !allowRestarts && (restarted(c.baseline, c.promptId) || restarted(c.candidate, c.promptId));
    return { comparison: c, gated, verdict: lostRequest ? "restarted" : pairVerdict(speedFromTimeRatio(c.stepLatencyRatio), noise) };
  });
}

export function abCommand(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { base: { type: "string" }, head: { type: "string" }, noise: { type: "string", default: "0.02" }, "allow-restarts": { type: "boolean", default: false } },
  });
  if (positionals.length !== 1) throw new Error(`give one results folder\n\n${AB_USAGE}`);
  if ((values.base === undefined) !== (values.head === undefined)) throw new Error("--base and --head go together");
  const noise = Number(values.noise);
  if (!(noise >= 0 && noise < 1)) throw new Error(`--noise must be a share in [0, 1), got ${values.noise}`);
  const model = loadResults(positionals);
  const only = values.base === undefined ? undefined : { baseline: values.base, candidate: values.head! };
  const comparisons = pairedComparisons(model, only);
  if (comparisons.length === 0) throw new Error(`no A/B pair in ${positionals[0]}: it needs two labels of one framework with timed runs on a common prompt (labels: ${model.labels.join(", ")})`);
  const rows = abRows(model, comparisons, noise, values["allow-restarts"]);

  const interval = (ci: PairedComparison["decodeTpsRatio"]) => `${formatRatio(ci.low)}–${formatRatio(ci.high)}`;
  // The report's A/B table, plus the gate's verdict per row.
  const table = pairTable(comparisons)!;
  const headers = [...table.headers, "Verdict"];
  const cells = table.rows.map((row, i) => [...row, rows[i].gated ? `${rows[i].verdict} (gate)` : rows[i].verdict]);
  const numeric = [...table.numeric, false];
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  console.log(`A/B pairs in ${positionals[0]} (noise band ±${formatPercent(noise)}; the gate reads the step-latency ratio of the pooled row)\n`);
  console.log([line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n"));
  if (comparisons.some((c) => !c.interleaved)) console.log("\nnote: some pairs were not sent back to back (BENCH_INTERLEAVE=off): host drift between the labels' blocks is not cancelled.");

  const gated = rows.filter((r) => r.gated);
  const restarted = gated.filter((r) => r.verdict === "restarted");
  const slower = gated.filter((r) => r.verdict === "slower");
  // main() turns a thrown error into exit status 1 with the message on stderr.
  if (restarted.length) throw new Error(`runner restarts in ${restarted.map((r) => `${r.comparison.candidate} vs ${r.comparison.baseline}`).join(", ")}: not gating on cases that lost a request (rerun, or --allow-restarts)`);
  if (slower.length) {
    const detail = slower.map(({ comparison: c }) => `${c.candidate} vs ${c.baseline} (${c.promptId}, ${c.pairs} pairs): ${formatPercent(c.stepLatencyRatio.estimate - 1)} more time per decode step (95 % CI of the ratio ${interval(c.stepLatencyRatio)})`);
    throw new Error(`significant slowdown beyond the noise band: ${detail.join("; ")}`);
  }
  console.log("\nno significant slowdown beyond the noise band");
}
