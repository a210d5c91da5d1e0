import { depthOfPromptId } from "../harness/depth.ts";
import type { Table } from "./document.ts";
import { formatNumber, formatPercent } from "./format.ts";
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

/**
 * Decode speed at each depth per framework, with its share of the same framework's speed at the
 * smallest depth measured, and the memory the harness measured at that depth (memory/sampler.ts's peak).
 */
export function depthTable(model: ResultsModel): Table {
  const rows = depthRows(model);
  const first = new Map<string, number>();
  for (const r of rows) if (r.summary && !first.has(r.label)) first.set(r.label, r.summary.decodeTps.estimate);
  return {
    headers: ["Framework", "Depth (tokens)", "Decode tok/s (median)", "95 % CI", "vs shallowest", "TTFT ms", "Peak memory MiB (harness)", "Runs"],
    numeric: [false, true, true, true, true, true, true, true],
    rows: rows.map(({ label, depth, summary: s, notMeasured }) =>
      s
        ? [
            label,
            String(depth),
            formatNumber(s.decodeTps.estimate),
            `${formatNumber(s.decodeTps.low)}–${formatNumber(s.decodeTps.high)}`,
            formatPercent(s.decodeTps.estimate / first.get(label)!),
            formatNumber(s.ttftMs),
            s.processMemoryMb === null ? "not measured" : `${formatNumber(s.processMemoryMb)} (${s.processMemorySource})`,
            String(s.runs.length),
          ]
        : [label, String(depth), `not measured: ${notMeasured}`, "", "", "", "", "0"],
    ),
  };
}
