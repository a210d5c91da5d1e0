import type { ResultsModel } from "../summary.ts";

/** Chart subtitle lines: the model and profile the numbers belong to, plus a chart-specific line. */
export function chartSubtitle(model: ResultsModel, detail: string): string[] {
  const first = model.files[0]?.results;
  if (!first) return [detail];
  const runs = [...new Set(model.files.map((f) => f.results.timed_iterations))].join("/");
  const weights = first.model.synthetic ? ", synthetic weights" : "";
  return [`${first.model.name}${weights} · ${first.max_new_tokens} new tokens · ${runs} timed runs per prompt · batch 1, greedy`, detail];
}
