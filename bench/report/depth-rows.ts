import { baseOfPromptId, depthOfPromptId, depthPromptId, parseDepths } from "../harness/depth.ts";
import type { ResultsFile } from "../harness/schema/results.ts";
import type { PromptSummary, ResultsModel } from "./summary.ts";

/** One framework at one depth: measured, or why not. */
export interface DepthRow {
  label: string;
  promptId: string;
  /** KV-cache depth, tokens (BENCH_DEPTHS). */
  depth: number;
  /** The timed runs' summary; null when the depth was not measured. */
  summary: PromptSummary | null;
  /** Why the depth was not measured (the runner's error, or the budget's skip); null when measured. */
  notMeasured: string | null;
}

/** Every (framework, depth) of the model's depth cases, measured or not, by label then depth. */
export function depthRows(model: ResultsModel): DepthRow[] {
  const rows: DepthRow[] = [];
  for (const { label, results } of model.files) {
    const ids = new Set<string>();
    for (const r of results.runs) if (r.depth !== undefined) ids.add(r.prompt_id);
    for (const c of results.cases) if (depthOfPromptId(c.prompt_id) !== null) ids.add(c.prompt_id);
    for (const e of results.errors) if (e.prompt_id !== null && depthOfPromptId(e.prompt_id) !== null) ids.add(e.prompt_id);
    const reached = new Set(ids);
    for (const promptId of unreachedDepthIds(results, reached)) ids.add(promptId);
    for (const promptId of ids) {
      const summary = model.summaries.find((s) => s.label === label && s.promptId === promptId) ?? null;
      const skipped = results.cases.find((c) => c.prompt_id === promptId && c.skipped !== null)?.skipped;
      const error = results.errors.find((e) => e.prompt_id === promptId);
      const depth = summary?.depth ?? depthOfPromptId(promptId)!;
      const notMeasured = summary ? null : skipped ? `skipped by the time budget: ${skipped}` : error ? `runner error (${error.kind}): ${error.message}` : reached.has(promptId) ? "no timed runs" : notReached(results);
      rows.push({ label, promptId, depth, summary, notMeasured });
    }
  }
  return rows.sort((a, b) => a.label.localeCompare(b.label) || a.depth - b.depth);
}

/**
 * The depth cases the run planned (its BENCH_DEPTHS, from the results' provenance) that this file
 * never began: a run stopped early (BENCH_WALL_LIMIT, an interrupt) ends before its deeper cases,
 * and the report says so rather than leave them out. Depths of each base prompt the file began.
 */
function unreachedDepthIds(results: ResultsFile, reached: Set<string>): string[] {
  const planned = results.provenance?.env.BENCH_DEPTHS;
  if (!planned) return [];
  let depths: number[];
  try {
    depths = parseDepths(planned);
  } catch {
    return [];
  }
  const bases = new Set([...reached].map(baseOfPromptId));
  return [...bases].flatMap((base) => depths.map((d) => depthPromptId(base, d))).filter((id) => !reached.has(id));
}

/** Why a planned depth has no record: the run stopped first, with its wall limit where one was set. */
function notReached(results: ResultsFile): string {
  const wall = results.provenance?.env.BENCH_WALL_LIMIT;
  return `not reached: the run stopped before this depth${wall ? ` (BENCH_WALL_LIMIT=${wall} s)` : ""}`;
}

/** True when the model holds depth cases (BENCH_DEPTHS). */
export const hasDepthCases = (model: ResultsModel): boolean => depthRows(model).length > 0;
