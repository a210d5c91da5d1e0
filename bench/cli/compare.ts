import { parseArgs } from "node:util";
import { compareDecodeTps } from "../report/comparison.ts";
import { formatNumber, formatP, formatPercent, formatRatio } from "../report/format.ts";
import { loadResults, type PromptSummary } from "../report/summary.ts";

export const COMPARE_USAGE = `qwen3-bench compare BASELINE NEW [--noise 0.02] [--alpha 0.05]

Compares decode tok/s of two benchmark runs (results folders or files) per (framework, prompt): median
change, 95 % bootstrap CI of the ratio NEW/BASELINE, two-sided Mann-Whitney p. Exits 1 when some
framework is slower than the baseline by more than the noise band (--noise, relative) AND the
difference is significant (p < --alpha).`;

/** One row of the comparison. */
export interface CompareRow {
  framework: string;
  promptId: string;
  baselineTps: number;
  newTps: number;
  ratio: number;
  ratioLow: number;
  ratioHigh: number;
  p: number;
  verdict: "slower" | "faster" | "within noise" | "not significant";
}

/** Compares two sets of summaries; rows for (framework, prompt) pairs present in both. */
export function compareRuns(baseline: PromptSummary[], candidate: PromptSummary[], noise: number, alpha: number): CompareRow[] {
  const rows: CompareRow[] = [];
  for (const b of baseline) {
    const n = candidate.find((c) => c.framework === b.framework && c.promptId === b.promptId);
    if (!n) continue;
    const c = compareDecodeTps(b.decodeTpsSamples, n.decodeTpsSamples);
    const change = c.ratio.estimate - 1;
    const verdict = Math.abs(change) <= noise ? "within noise" : c.p >= alpha ? "not significant" : change < 0 ? "slower" : "faster";
    rows.push({ framework: b.framework, promptId: b.promptId, baselineTps: b.decodeTps.estimate, newTps: n.decodeTps.estimate, ratio: c.ratio.estimate, ratioLow: c.ratio.low, ratioHigh: c.ratio.high, p: c.p, verdict });
  }
  return rows;
}

function table(rows: CompareRow[]): string {
  const headers = ["framework", "prompt", "baseline tok/s", "new tok/s", "change", "ratio 95% CI", "p", "verdict"];
  const cells = rows.map((r) => [
    r.framework,
    r.promptId,
    formatNumber(r.baselineTps),
    formatNumber(r.newTps),
    `${r.ratio >= 1 ? "+" : ""}${formatPercent(r.ratio - 1)}`,
    `${formatRatio(r.ratioLow)}–${formatRatio(r.ratioHigh)}`,
    formatP(r.p),
    r.verdict,
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i >= 2 && i <= 6 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

export function compareCommand(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { noise: { type: "string", default: "0.02" }, alpha: { type: "string", default: "0.05" } },
  });
  if (positionals.length !== 2) throw new Error(`give exactly two results folders or files\n\n${COMPARE_USAGE}`);
  const noise = Number(values.noise);
  const alpha = Number(values.alpha);
  if (!(noise >= 0 && noise < 1)) throw new Error(`--noise must be a share in [0, 1), got ${values.noise}`);
  if (!(alpha > 0 && alpha < 1)) throw new Error(`--alpha must be in (0, 1), got ${values.alpha}`);
  const [baselinePath, newPath] = positionals;
  const baseline = loadResults([baselinePath]);
  const candidate = loadResults([newPath]);
  const rows = compareRuns(baseline.summaries, candidate.summaries, noise, alpha);
  if (rows.length === 0) throw new Error(`no (framework, prompt) pair is in both ${baselinePath} and ${newPath}`);
  console.log(`decode tok/s, ${newPath} vs ${baselinePath} (noise band ±${formatPercent(noise)}, alpha ${alpha})\n`);
  console.log(table(rows));
  const slower = rows.filter((r) => r.verdict === "slower");
  const runs = rows.map((r) => baseline.summaries.find((s) => s.framework === r.framework && s.promptId === r.promptId)!.runs.length);
  if (Math.min(...runs) <= 3) console.log("\nnote: with 3 or fewer runs per side the rank test cannot reach p < 0.1; use the full profile for regression checks.");
  // main() turns a thrown error into exit status 1 with the message on stderr.
  if (slower.length) throw new Error(`significant slowdown beyond the noise band: ${slower.map((r) => `${r.framework}/${r.promptId} ${formatPercent(1 - r.ratio)} slower (p ${formatP(r.p)})`).join(", ")}`);
  console.log("\nno significant slowdown beyond the noise band");
}
