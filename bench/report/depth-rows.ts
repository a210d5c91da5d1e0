import { depthOfPromptId } from "../harness/depth.ts";
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
    for (const promptId of ids) {
      const summary = model.summaries.find((s) => s.label === label && s.promptId === promptId) ?? null;
      const skipped = results.cases.find((c) => c.prompt_id === promptId && c.skipped !== null)?.skipped;
      const error = results.errors.find((e) => e.prompt_id === promptId);
      const depth = summary?.depth ?? depthOfPromptId(promptId)!;
      const notMeasured = summary ? null : skipped ? `skipped by the time budget: ${skipped}` : error ? `runner error (${error.kind}): ${error.message}` : "no timed runs";
      rows.push({ label, promptId, depth, summary, notMeasured });
    }
  }
  return rows.sort((a, b) => a.label.localeCompare(b.label) || a.depth - b.depth);
}

/** True when the model holds depth cases (BENCH_DEPTHS). */
export const hasDepthCases = (model: ResultsModel): boolean => depthRows(model).length > 0;
