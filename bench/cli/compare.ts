import { parseArgs } from "node:util";
import type { ResultsFile } from "../harness/schema/results.ts";
import { compareDecodeSteps, DEFAULT_GATE, pooledStepComparison, type GateSettings, type StepComparison } from "../report/comparison.ts";
import { formatNumber, formatPercent, formatRatio } from "../report/format.ts";
import { provenanceDifferences } from "../report/provenance.ts";
import { loadResults, type LoadedResults, type PromptSummary } from "../report/summary.ts";
import type { GateVerdict } from "../stats/gate.ts";
import { statisticQuantile, type PooledStatistic } from "../stats/hierarchical-bootstrap.ts";
import { geometricMean } from "../stats/mean.ts";
import { ExitCodeError } from "./exit-code-error.ts";

export const COMPARE_USAGE = `qwen3-bench compare BASELINE NEW [--noise 0.02] [--alpha 0.05] [--statistic median|mean|p10] [--allow-restarts]

Compares decode speed of two benchmark runs (results folders or files) per (framework, prompt) from
every decode step of every timed run: the ratio NEW/BASELINE of the median step latency (--statistic)
with its 1 − alpha interval from a two-stage bootstrap (runs drawn with replacement, then steps within
each drawn run); per framework with several prompts, also over all its prompts (the geometric mean
of their ratios, its interval from their independent resamples). Exits 1 when, for some case or
for a framework's prompts together, the whole interval lies below 1 − noise (a slowdown beyond the
noise band); exits 2 without a verdict when a compared case had a runner restart, unless
--allow-restarts.`;

/** promptId of the row that pools a framework's prompts. */
export const ALL_PROMPTS_ROW = "all prompts";

/** Exit status when a compared case had a runner restart and --allow-restarts was not given. */
export const EXIT_RESTARTS = 2;

/** One row of the comparison. */
export interface CompareRow {
  framework: string;
  promptId: string;
  /** 1000 / the gate statistic of step latencies, tokens per second. */
  baselineTps: number;
  newTps: number;
  /** NEW speed / BASELINE speed, unitless (0.9 = 10 % slower), with its interval. */
  ratio: number;
  ratioLow: number;
  ratioHigh: number;
  /** Timed runs and decode steps per side. */
  baselineRuns: number;
  newRuns: number;
  baselineSteps: number;
  newSteps: number;
  verdict: GateVerdict;
}

/**
 * Compares two sets of summaries: rows for (framework, prompt) pairs present in both, then, for a
 * framework with several such prompts, one row over all of them (ALL_PROMPTS_ROW).
 */
export function compareRuns(baseline: PromptSummary[], candidate: PromptSummary[], gate: GateSettings = DEFAULT_GATE): CompareRow[] {
  const rows: CompareRow[] = [];
  const parts = new Map<string, StepComparison[]>();
  for (const b of baseline) {
    const n = candidate.find((c) => c.framework === b.framework && c.promptId === b.promptId);
    if (!n) continue;
    // Each prompt of a framework its own random stream: their resamples pool independently.
    const done = parts.get(b.framework) ?? [];
    const c = compareDecodeSteps(b.runs, n.runs, gate, done.length);
    parts.set(b.framework, [...done, c]);
    rows.push({
      framework: b.framework,
      promptId: b.promptId,
      baselineTps: 1000 / c.baselineStepMs,
      newTps: 1000 / c.candidateStepMs,
      ratio: c.ratio.estimate,
      ratioLow: c.ratio.low,
      ratioHigh: c.ratio.high,
      baselineRuns: c.baselineRuns,
      newRuns: c.candidateRuns,
      baselineSteps: c.baselineSteps,
      newSteps: c.candidateSteps,
      verdict: c.verdict,
    });
  }
  const sum = (values: number[]) => values.reduce((a, v) => a + v, 0);
  for (const [framework, comparisons] of parts) {
    if (comparisons.length < 2) continue;
    const pooled = pooledStepComparison(comparisons, gate);
    rows.push({
      framework,
      promptId: ALL_PROMPTS_ROW,
      baselineTps: geometricMean(comparisons.map((c) => 1000 / c.baselineStepMs)),
      newTps: geometricMean(comparisons.map((c) => 1000 / c.candidateStepMs)),
      ratio: pooled.ratio.estimate,
      ratioLow: pooled.ratio.low,
      ratioHigh: pooled.ratio.high,
      baselineRuns: sum(comparisons.map((c) => c.baselineRuns)),
      newRuns: sum(comparisons.map((c) => c.candidateRuns)),
      baselineSteps: sum(comparisons.map((c) => c.baselineSteps)),
      newSteps: sum(comparisons.map((c) => c.candidateSteps)),
      verdict: pooled.verdict,
    });
  }
  return rows;
}

function table(rows: CompareRow[], confidence: number): string {
  const headers = ["framework", "prompt", "baseline tok/s", "new tok/s", "change", `ratio ${Math.round(confidence * 100)}% CI`, "runs × steps", "verdict"];
  const cells = rows.map((r) => [
    r.framework,
    r.promptId,
    formatNumber(r.baselineTps),
    formatNumber(r.newTps),
    `${r.ratio >= 1 ? "+" : ""}${formatPercent(r.ratio - 1)}`,
    `${formatRatio(r.ratioLow)}–${formatRatio(r.ratioHigh)}`,
    `${r.baselineRuns}×${Math.round(r.baselineSteps / r.baselineRuns)} / ${r.newRuns}×${Math.round(r.newSteps / r.newRuns)}`,
    r.verdict,
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i >= 2 && i <= 6 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/** The decision rule in words, printed above the table. */
export function decisionRule(gate: GateSettings): string {
  const pct = `${Math.round(gate.confidence * 100)} %`;
  return (
    `speed ratio NEW/BASELINE = ${gate.statistic} decode-step latency of BASELINE / of NEW (every step of every timed run, TTFT excluded); ` +
    `${pct} interval from a two-stage bootstrap (runs with replacement, then steps within each run; 10,000 resamples, fixed seed); ` +
    `"${ALL_PROMPTS_ROW}": the geometric mean of a framework's prompts' ratios, resampled together (tok/s there: geometric means).\n` +
    `decision: "slower" (exit 1) when the whole interval is below ${formatRatio(1 - gate.band)} (1 − noise band ${formatPercent(gate.band)}); ` +
    `"faster" when above ${formatRatio(1 + gate.band)}; "within noise" when inside the band; else "inconclusive".`
  );
}

/** Restarts of a file that touch a prompt: during its requests, or outside any request (null prompt). */
const restartsFor = (results: ResultsFile, promptId: string) => results.restarts.filter((r) => r.prompt_id === null || r.prompt_id === promptId);

const fileOf = (files: LoadedResults[], framework: string) => files.find((f) => f.results.framework === framework);

function parseGate(values: { noise?: string; alpha?: string; statistic?: string }): GateSettings {
  const band = Number(values.noise);
  const alpha = Number(values.alpha);
  if (!(band >= 0 && band < 1)) throw new Error(`--noise must be a share in [0, 1), got ${values.noise}`);
  if (!(alpha > 0 && alpha < 1)) throw new Error(`--alpha must be in (0, 1), got ${values.alpha}`);
  const statistic = values.statistic ?? DEFAULT_GATE.statistic;
  try {
    statisticQuantile(statistic);
  } catch {
    throw new Error(`--statistic must be median, mean or a percentile p1..p99 (p10), got ${statistic}`);
  }
  return { band, confidence: 1 - alpha, statistic: statistic as PooledStatistic };
}

export function compareCommand(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      noise: { type: "string", default: String(DEFAULT_GATE.band) },
      alpha: { type: "string", default: String(Math.round((1 - DEFAULT_GATE.confidence) * 1000) / 1000) },
      statistic: { type: "string", default: DEFAULT_GATE.statistic },
      "allow-restarts": { type: "boolean", default: false },
    },
  });
  if (positionals.length !== 2) throw new Error(`give exactly two results folders or files\n\n${COMPARE_USAGE}`);
  const gate = parseGate(values);
  const [baselinePath, newPath] = positionals;
  const baseline = loadResults([baselinePath]);
  const candidate = loadResults([newPath]);
  // Two sides of one framework each under different labels (an A/B run's burn-cpu@base and
  // burn-cpu@head files): compare them with each other.
  const frameworksOf = (files: LoadedResults[]) => [...new Set(files.map((f) => f.results.framework))];
  const [baseOnly, newOnly] = [frameworksOf(baseline.files), frameworksOf(candidate.files)];
  const relabel = baseOnly.length === 1 && newOnly.length === 1 && baseOnly[0] !== newOnly[0];
  const candidateSummaries = relabel ? candidate.summaries.map((s) => ({ ...s, framework: baseOnly[0] })) : candidate.summaries;
  const rows = compareRuns(baseline.summaries, candidateSummaries, gate);
  if (rows.length === 0) throw new Error(`no (framework, prompt) pair is in both ${baselinePath} and ${newPath}`);

  console.log(`decode speed, ${newPath} vs ${baselinePath}${relabel ? ` (label ${newOnly[0]} against ${baseOnly[0]})` : ""}\n${decisionRule(gate)}\n`);
  console.log(table(rows, gate.confidence));

  const candidateFile = (framework: string) => (relabel ? candidate.files[0] : fileOf(candidate.files, framework)!);
  for (const framework of [...new Set(rows.map((r) => r.framework))]) {
    const differences = provenanceDifferences(fileOf(baseline.files, framework)!.results, candidateFile(framework).results);
    if (differences.length) console.log(`\nwarning: ${framework}: besides the label, the two sides differ in:\n${differences.map((d) => `  - ${d}`).join("\n")}`);
  }

  const restarted = rows.filter((r) => r.promptId !== ALL_PROMPTS_ROW).flatMap((r) => {
    const found = [
      ...restartsFor(fileOf(baseline.files, r.framework)!.results, r.promptId).map((x) => ({ side: "baseline", ...x })),
      ...restartsFor(candidateFile(r.framework).results, r.promptId).map((x) => ({ side: "new", ...x })),
    ];
    return found.map((x) => `${r.framework}/${r.promptId} (${x.side}: ${x.signal ?? `exit ${x.exit_code}`} at ${x.prompt_id === null ? "start-up" : `iteration ${x.iteration}`}, ${x.at})`);
  });
  if (restarted.length && !values["allow-restarts"]) {
    // main() prints the message and exits with the error's code.
    throw new ExitCodeError(EXIT_RESTARTS, `refusing to gate: a runner restarted during ${restarted.join(", ")}; its timings may include a cold process. Rerun, or pass --allow-restarts to gate anyway.`);
  }
  if (restarted.length) console.log(`\nnote: gating despite runner restarts (--allow-restarts): ${restarted.join(", ")}`);

  const slower = rows.filter((r) => r.verdict === "slower");
  // main() turns a thrown error into exit status 1 with the message on stderr.
  if (slower.length) throw new Error(`significant slowdown beyond the noise band: ${slower.map((r) => `${r.framework}/${r.promptId} ${formatPercent(1 - r.ratio)} slower (interval ${formatRatio(r.ratioLow)}–${formatRatio(r.ratioHigh)})`).join(", ")}`);
  const inconclusive = rows.filter((r) => r.verdict === "inconclusive");
  if (inconclusive.length) console.log(`\nnote: ${inconclusive.length} case(s) inconclusive (the interval straddles the band's edge): more timed runs would decide.`);
  console.log("\nno significant slowdown beyond the noise band");
}
