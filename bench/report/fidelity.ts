import { existsSync, statSync } from "node:fs";
import { laneResultsDirs } from "../harness/lanes.ts";
import { formatIssues, InputFileError, readInputFile } from "../harness/schema/parse.ts";
import { FidelityRecord, OURS_TOOL, type FidelityAgreement, type FidelityError, type FidelityMeta, type FidelityRun } from "../harness/schema/fidelity.ts";
import { median } from "../stats/median.ts";
import { CONFIDENCE, formatNumber, formatRatio } from "./format.ts";
import { loadResults, type ResultsModel } from "./summary.ts";

/**
 * The fidelity table (issue 14, item 5): each runner's decode speed in a harness run beside the
 * same thing measured by the framework's own tool (`qwen3-bench fidelity --run`), with the ratio.
 */

/** Where the tool runs the runner's own code path, our runner should be within this share of it. */
export const FIDELITY_TARGET = 0.03;

/** Our runner's decode speed for one (runner, prompt), from a harness results folder. */
export interface RunnerCase {
  /** Framework label in the results ("torch-compile", "burn-cuda"). */
  runner: string;
  promptId: string;
  promptTokens: number;
  /** New tokens per timed run. */
  newTokens: number;
  precision: string;
  /** Median decode speed over timed runs and its 95 % interval, tok/s. */
  decodeTps: number;
  low: number;
  high: number;
}

/** One row: a runner on one prompt length against one tool. */
export interface FidelityRow {
  runner: string;
  /** The harness's prompt id; null when the harness has no case of that length. */
  promptId: string | null;
  promptTokens: number;
  tool: string;
  sameCodePath: boolean;
  /**
   * Our runner's median decode tok/s: timed in the same fidelity run (OURS_TOOL runs; low–high their
   * range, `runs` their count), else from a results folder (low–high the 95 % interval, `runs` null);
   * null without either.
   */
  ours: { tps: number; low: number; high: number; newTokens: number; runs: number | null } | null;
  /** The tool's median decode tok/s, its range and run count; null when it has no runs. */
  theirs: { tps: number; min: number; max: number; runs: number; newTokens: number } | null;
  /** ours / theirs (1 = as fast; 0.9 = our runner 10 % slower); null when either is missing. */
  ratio: number | null;
  /** |ratio − 1| ≤ FIDELITY_TARGET, for a tool on the same code path; null for another path or no ratio. */
  withinTarget: boolean | null;
  /** Differences in the setting and the tool's errors, in words. */
  notes: string[];
}

/** Our runners' cases from a loaded results model (median decode tok/s per framework and prompt). */
export const runnerCases = (model: ResultsModel): RunnerCase[] =>
  model.summaries.map((s) => ({
    runner: s.label,
    promptId: s.promptId,
    promptTokens: s.promptTokens,
    newTokens: s.tokensGenerated,
    precision: s.precision,
    decodeTps: s.decodeTps.estimate,
    low: s.decodeTps.low,
    high: s.decodeTps.high,
  }));

const key = (runner: string, tool: string, promptTokens: number) => JSON.stringify([runner, tool, promptTokens]);

/** Joins our runners' cases with the tools' records: one row per (runner, tool, prompt length) any tool measured or failed on. */
export function fidelityRows(cases: RunnerCase[], records: FidelityRecord[]): FidelityRow[] {
  const allRuns = records.filter((r): r is FidelityRun => r.record === "run");
  const runs = allRuns.filter((r) => r.tool !== OURS_TOOL);
  const oursRuns = allRuns.filter((r) => r.tool === OURS_TOOL);
  const allErrors = records.filter((r): r is FidelityError => r.record === "error");
  const errors = allErrors.filter((r) => r.tool !== OURS_TOOL);
  const oursErrors = allErrors.filter((r) => r.tool === OURS_TOOL);
  const groups = new Map<string, { runner: string; tool: string; promptTokens: number; sameCodePath: boolean; runs: FidelityRun[]; errors: string[] }>();
  const group = (runner: string, tool: string, promptTokens: number, sameCodePath: boolean) => {
    const k = key(runner, tool, promptTokens);
    if (!groups.has(k)) groups.set(k, { runner, tool, promptTokens, sameCodePath, runs: [], errors: [] });
    return groups.get(k)!;
  };
  for (const r of runs) group(r.runner, r.tool, r.prompt_tokens, r.same_code_path).runs.push(r);
  // The same_code_path of a tool that only failed is read from its meta or runs elsewhere; default "same".
  const samePath = (tool: string) => records.find((r) => r.tool === tool && "same_code_path" in r)?.same_code_path !== false;
  for (const e of errors) {
    if (e.runner === null) continue;
    // A failure of the whole tool is shown on each prompt length our runner has, or once without one.
    const lengths = e.prompt_tokens !== null ? [e.prompt_tokens] : [...new Set(cases.filter((c) => c.runner === e.runner).map((c) => c.promptTokens))];
    for (const p of lengths.length ? lengths : [0]) group(e.runner, e.tool, p, samePath(e.tool)).errors.push(e.message);
  }
  const rows: FidelityRow[] = [];
  for (const g of groups.values()) {
    const ourCase = cases.find((c) => c.runner === g.runner && c.promptTokens === g.promptTokens);
    const theirs = spread(g.runs);
    const inRun = oursRuns.filter((r) => r.runner === g.runner && r.prompt_tokens === g.promptTokens);
    const timedHere = spread(inRun);
    const ours = timedHere
      ? { tps: timedHere.tps, low: timedHere.min, high: timedHere.max, newTokens: timedHere.newTokens, runs: timedHere.runs }
      : ourCase ? { tps: ourCase.decodeTps, low: ourCase.low, high: ourCase.high, newTokens: ourCase.newTokens, runs: null } : null;
    const ratio = ours && theirs ? ours.tps / theirs.tps : null;
    const notes: string[] = [];
    // Without a results folder or our runner timed in the run (a tools-only run) there is nothing to miss.
    if (!ours && g.promptTokens > 0 && cases.length) notes.push(`no ${g.runner} results at ${g.promptTokens} prompt tokens`);
    if (inRun.length && ourCase) notes.push(`the results folder's run: ${formatNumber(ourCase.decodeTps)} tok/s`);
    // Our runner's error, unless the tool failed with the same words (a label not available here).
    for (const e of oursErrors.filter((e) => e.runner === g.runner && (e.prompt_tokens === null || e.prompt_tokens === g.promptTokens) && !g.errors.includes(e.message))) {
      notes.push(`our runner's error: ${e.message}`);
    }
    if (ours && theirs && ours.newTokens !== theirs.newTokens) notes.push(`new tokens differ: ours ${ours.newTokens}, tool ${theirs.newTokens}`);
    if (ourCase && g.runs.length && g.runs[0].dtype !== ourCase.precision) notes.push(`dtype differs: ours ${ourCase.precision}, tool ${g.runs[0].dtype}`);
    notes.push(...g.errors.map((m) => `tool error: ${m}`));
    rows.push({
      runner: g.runner,
      promptId: ourCase?.promptId ?? null,
      promptTokens: g.promptTokens,
      tool: g.tool,
      sameCodePath: g.sameCodePath,
      ours,
      theirs,
      ratio,
      withinTarget: ratio === null || !g.sameCodePath ? null : Math.abs(ratio - 1) <= FIDELITY_TARGET,
      notes,
    });
  }
  return rows.sort((a, b) => a.runner.localeCompare(b.runner) || a.tool.localeCompare(b.tool) || a.promptTokens - b.promptTokens);
}

/** The median decode tok/s of runs, their range, count and new tokens; null without runs. */
function spread(runs: FidelityRun[]): { tps: number; min: number; max: number; runs: number; newTokens: number } | null {
  const tps = runs.map((r) => r.decode_tps);
  return tps.length ? { tps: median(tps), min: Math.min(...tps), max: Math.max(...tps), runs: tps.length, newTokens: runs[0].new_tokens } : null;
}

const cell = (text: string) => text.replace(/\|/g, "/").replace(/\s+/g, " ");

/** The published table (markdown), the tools' notes, and the token checks between tools. */
export function fidelityMarkdown(rows: FidelityRow[], records: FidelityRecord[]): string {
  const pct = Math.round(FIDELITY_TARGET * 100);
  const lines = [
    `| runner | prompt | our runner tok/s | framework's own tool | tool tok/s, median (min–max, runs) | ratio ours / tool | within ${pct} % | notes |`,
    "| --- | --- | ---: | --- | ---: | ---: | --- | --- |",
  ];
  for (const r of rows) {
    const prompt = r.promptTokens === 0 ? "–" : `${r.promptId ?? "–"} (${r.promptTokens})`;
    const ours = r.ours ? `${formatNumber(r.ours.tps)} (${formatNumber(r.ours.low)}–${formatNumber(r.ours.high)}${r.ours.runs === null ? "" : `, ${r.ours.runs}`})` : "–";
    const theirs = r.theirs ? `${formatNumber(r.theirs.tps)} (${formatNumber(r.theirs.min)}–${formatNumber(r.theirs.max)}, ${r.theirs.runs})` : "–";
    const within = r.withinTarget === null ? (r.sameCodePath ? "–" : "other code path") : r.withinTarget ? "yes" : "no";
    lines.push(`| ${r.runner} | ${prompt} | ${ours} | ${r.tool} | ${theirs} | ${r.ratio === null ? "–" : formatRatio(r.ratio)} | ${within} | ${cell(r.notes.join("; "))} |`);
  }
  lines.push(
    "",
    `Our runner: the median (min–max, runs) of its timed runs in this fidelity run, where it was timed here (${OURS_TOOL}, before each label's tools in every round); else the median (${CONFIDENCE} CI) of the results folder's run.`,
  );
  const metas = records.filter((r): r is FidelityMeta => r.record === "meta" && r.runner !== null);
  if (metas.length) {
    lines.push("", "Tools:");
    for (const m of metas) lines.push(`- ${m.tool} (${m.runner}): ${[m.framework_version, m.device, ...(m.notes ?? [])].filter(Boolean).map((t) => cell(String(t))).join("; ")}`);
  }
  const agreements = records.filter((r): r is FidelityAgreement => r.record === "agreement");
  if (agreements.length) {
    lines.push("", "| tokens of | against | device, dtype | prompt tokens | tokens | first divergence | teacher-forced top-1 | passed |", "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |");
    for (const a of agreements) {
      const top1 = a.top1_agreement === null ? "–" : a.top1_agreement.toFixed(3);
      lines.push(`| ${a.tool} | ${a.reference} | ${a.device}, ${a.dtype} | ${a.prompt_tokens} | ${a.tokens} | ${a.first_divergence ?? "none"} | ${top1} | ${a.passed ? "yes" : "no"} |`);
    }
  }
  return lines.join("\n") + "\n";
}

/** A results folder with its lane folders (gpu0/, gpu1/, ...), as the report reads a lanes run; a file alone. */
const withLanes = (path: string): string[] => (existsSync(path) && statSync(path).isDirectory() ? [path, ...laneResultsDirs(path)] : [path]);

/** The fidelity table (fidelityMarkdown) of the tools' records beside our runners in a results folder or file; without one, the tools alone. */
export function fidelityReport(results: string | undefined, records: FidelityRecord[]): string {
  const cases = results ? runnerCases(loadResults(withLanes(results))) : [];
  return fidelityMarkdown(fidelityRows(cases, records), records);
}

/** Reads fidelity.jsonl; a bad line is an InputFileError naming the file, the line and the field. */
export function readFidelityJsonl(file: string): FidelityRecord[] {
  const text = readInputFile(file);
  const records: FidelityRecord[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new InputFileError(file, `line ${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const parsed = FidelityRecord.safeParse(value);
    if (!parsed.success) throw new InputFileError(file, `line ${i + 1}: ${formatIssues(parsed.error)}`);
    records.push(parsed.data);
  });
  if (!records.some((r) => r.record === "run" || r.record === "error")) throw new InputFileError(file, "holds no run or error records");
  return records;
}
