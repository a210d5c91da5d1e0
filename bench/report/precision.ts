import type { ResultsModel } from "./summary.ts";

/** Widest first: f32, bf16, f16, then quantized copies by bits, most first. */
const rank = (group: string): number => {
  const plain = ["f32", "bf16", "f16"].indexOf(group);
  return plain >= 0 ? plain : 100 - Number(/^(\d+)-bit/.exec(group)?.[1] ?? 0);
};

/** The model's precision groups in report order. */
export function precisionGroups(model: ResultsModel): string[] {
  return [...new Set(model.summaries.map((s) => s.precisionGroup))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The part of the model in one precision group (its summaries, labels and files). */
export function modelInGroup(model: ResultsModel, group: string): ResultsModel {
  const summaries = model.summaries.filter((s) => s.precisionGroup === group);
  const labels = model.labels.filter((l) => summaries.some((s) => s.label === l));
  return { ...model, summaries, labels, files: model.files.filter((f) => labels.includes(f.label)) };
}
