import { parseArgs } from "node:util";
import { formatPercent, formatRatio } from "../report/format.ts";
import { pairedComparisons, pairVerdict, type PairVerdict } from "../report/pairing.ts";
import { loadResults } from "../report/summary.ts";

export const AB_USAGE = `qwen3-bench ab RESULTS_DIR [--base LABEL --head LABEL] [--noise 0.02] [--allow-restarts]

Gates an A/B run: two labels of one framework measured in one run (builds burn-cpu@base and
burn-cpu@head, or runner flags such as burn-cuda[decode-graph=off]), their requests interleaved
(BENCH_INTERLEAVE=on). Per prompt: the median over pairs of head ÷ base decode tok/s and step
latency, with 95 % bootstrap intervals over the pairs. Exits 1 when head is slower by more than the
noise band (--noise, relative) with an interval that excludes 1, or when either label's runner
was restarted on a prompt (its case lost a request; --allow-restarts gates anyway). Without
--base/--head, every framework that ran as several labels is paired with its plain label or @base.`;

/** One gated prompt of a pair. */
export interface AbRow {
  baseline: string;
  candidate: string;
  promptId: string;
  verdict: PairVerdict | "restarted";
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

  const restartedOn = (label: string, promptId: string) =>
    model.files.find((f) => f.label === label)?.results.restarts.some((r) => r.prompt_id === promptId || r.prompt_id === null) ?? false;
  const rows: AbRow[] = [];
  const headers = ["prompt", "B (head)", "A (base)", "pairs", "interleaved", "tok/s B÷A", "95% CI", "step B÷A", "95% CI", "verdict"];
  const cells = comparisons.map((c) => {
    const restarted = restartedOn(c.baseline, c.promptId) || restartedOn(c.candidate, c.promptId);
    const verdict = restarted && !values["allow-restarts"] ? "restarted" : pairVerdict(c.decodeTpsRatio, noise);
    rows.push({ baseline: c.baseline, candidate: c.candidate, promptId: c.promptId, verdict });
    return [
      c.promptId,
      c.candidate,
      c.baseline,
      String(c.pairs),
      c.interleaved ? "yes" : "no",
      formatRatio(c.decodeTpsRatio.estimate),
      `${formatRatio(c.decodeTpsRatio.low)}–${formatRatio(c.decodeTpsRatio.high)}`,
      formatRatio(c.stepLatencyRatio.estimate),
      `${formatRatio(c.stepLatencyRatio.low)}–${formatRatio(c.stepLatencyRatio.high)}`,
      verdict,
    ];
  });
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i >= 3 && i <= 8 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  console.log(`A/B pairs in ${positionals[0]} (noise band ±${formatPercent(noise)}; verdict from the decode tok/s ratio)\n`);
  console.log([line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n"));
  if (comparisons.some((c) => !c.interleaved)) console.log("\nnote: some pairs were not sent back to back (BENCH_INTERLEAVE=off): host drift between the labels' blocks is not cancelled.");

  const restarted = rows.filter((r) => r.verdict === "restarted");
  const slower = rows.filter((r) => r.verdict === "slower");
  // main() turns a thrown error into exit status 1 with the message on stderr.
  if (restarted.length) throw new Error(`runner restarts during ${restarted.map((r) => `${r.promptId}`).join(", ")}: not gating on cases that lost a request (rerun, or --allow-restarts)`);
  if (slower.length) {
    const detail = slower.map((r) => {
      const c = comparisons.find((x) => x.candidate === r.candidate && x.baseline === r.baseline && x.promptId === r.promptId)!;
      return `${r.candidate} vs ${r.baseline} on ${r.promptId}: ${formatPercent(1 - c.decodeTpsRatio.estimate)} slower (95 % CI of the ratio ${formatRatio(c.decodeTpsRatio.low)}–${formatRatio(c.decodeTpsRatio.high)})`;
    });
    throw new Error(`significant slowdown beyond the noise band: ${detail.join("; ")}`);
  }
  console.log("\nno significant slowdown beyond the noise band");
}
