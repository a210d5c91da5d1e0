// Which runs are compared with which (the engine that compares them is comparison.ts): every
// framework against the report's baseline, each framework of one benchmark run against itself in
// another (`compare`), and the A/B labels of one framework in one run (`ab`).
import { isPlainLabel, parseFrameworkLabel } from "../harness/framework-label.ts";
import type { ResultsFile, RestartRecord } from "../harness/schema/results.ts";
import type { Case, Side } from "./comparison.ts";
import type { ResultsModel } from "./summary.ts";
import { geometricMean } from "../stats/mean.ts";

/** A side together with the results file its runs come from (restarts, provenance). */
export interface FileSide extends Side {
  results: ResultsFile;
}

/** A case between two results files. */
export interface FileCase extends Case {
  baseline: FileSide;
  candidate: FileSide;
}

/** The baseline of ratio tables: the requested label if present, else "torch" if present, else the first. */
export function chooseBaseline(labels: string[], requested?: string): string {
  // A framework loaded from several folders is labelled "torch (gpu0)", "torch (gpu1)": its name
  // picks the first of them.
  const find = (name: string) => labels.find((l) => l === name) ?? labels.find((l) => l.startsWith(`${name} (`));
  if (requested !== undefined) {
    const found = find(requested);
    if (!found) throw new Error(`baseline ${JSON.stringify(requested)} is not among the frameworks (${labels.join(", ")})`);
    return found;
  }
  return find("torch") ?? labels[0];
}

/** The side of `label` on `promptId` in a model; null when that label has no runs there. */
function sideOf(model: ResultsModel, label: string, promptId: string, as = label): FileSide | null {
  const summary = model.summaries.find((s) => s.label === label && s.promptId === promptId);
  const file = model.files.find((f) => f.label === label);
  return summary && file ? { label: as, runs: summary.runs, results: file.results } : null;
}

/** Every other label against `baseline`, prompt by prompt (the report's "Relative to" table). */
export function againstBaseline(model: ResultsModel, baseline: string): FileCase[] {
  return model.labels
    .filter((label) => label !== baseline)
    .flatMap((label) =>
      model.promptIds.flatMap((promptId) => {
        const [b, c] = [sideOf(model, baseline, promptId), sideOf(model, label, promptId)];
        return b && c ? [{ promptId, baseline: b, candidate: c }] : [];
      }),
    );
}

/**
 * Each framework of one set of results against the same framework in another (`compare`), per
 * prompt both hold. When each side holds one framework under a different name (an A/B run's
 * burn-cpu@base and burn-cpu@head files), they are compared with each other: `relabelled` says so.
 */
export function acrossRuns(baseline: ResultsModel, candidate: ResultsModel): { cases: FileCase[]; relabelled: boolean } {
  const frameworksOf = (model: ResultsModel) => [...new Set(model.files.map((f) => f.results.framework))];
  const [baseOnly, newOnly] = [frameworksOf(baseline), frameworksOf(candidate)];
  const relabelled = baseOnly.length === 1 && newOnly.length === 1 && baseOnly[0] !== newOnly[0];
  const cases = baseline.summaries.flatMap((b) => {
    const n = candidate.summaries.find((c) => (relabelled || c.framework === b.framework) && c.promptId === b.promptId);
    const [bs, ns] = n ? [sideOf(baseline, b.label, b.promptId, b.framework), sideOf(candidate, n.label, n.promptId, n.framework)] : [null, null];
    return bs && ns ? [{ promptId: b.promptId, baseline: bs, candidate: ns }] : [];
  });
  return { cases, relabelled };
}

/**
 * The baseline of a framework's labels (sorted): the plain framework if it ran, else the build named
 * "base", else the label with the fewest runner flags (`[kernels=custom]` before
 * `[kernels=custom,split-from=256]`), the first in sort order among equals.
 */
export function baselineOf(labels: string[]): string {
  const parsed = labels.map((label) => ({ label, ...parseFrameworkLabel(label) }));
  const fewestFlags = parsed.reduce((best, p) => (p.flags.length < best.flags.length ? p : best));
  return (parsed.find(isPlainLabel) ?? parsed.find((p) => p.build === "base" && p.flags.length === 0) ?? fewestFlags).label;
}

/**
 * The fastest label of a run, the default baseline of its ratio table, so that every ratio is
 * against the strongest peer: among the labels measured on the most prompts, the one with the
 * highest geometric mean of its per-prompt median decode speed (the first in `model.labels`' order
 * among equals). Null when no label has a measured prompt.
 */
export function fastestLabel(model: ResultsModel): string | null {
  const medians = new Map<string, number[]>();
  for (const s of model.summaries) if (s.decodeTps.estimate > 0) medians.set(s.label, [...(medians.get(s.label) ?? []), s.decodeTps.estimate]);
  const measured = model.labels.filter((label) => medians.has(label));
  if (measured.length === 0) return null;
  const most = Math.max(...measured.map((label) => medians.get(label)!.length));
  const speed = new Map(measured.map((label) => [label, geometricMean(medians.get(label)!)]));
  return measured.filter((label) => medians.get(label)!.length === most).reduce((best, label) => (speed.get(label)! > speed.get(best)! ? label : best));
}

/** Labels that are variants: parseable, and sharing a base framework with another label of the same folder. */
function variantGroups(model: ResultsModel): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const { label, results } of model.files) {
    // Copies of one framework from several folders ("torch (gpu0)") are not an A/B pair of one run.
    if (label !== results.framework) continue;
    let base: string;
    try {
      base = parseFrameworkLabel(label).base;
    } catch {
      continue;
    }
    groups.set(base, [...(groups.get(base) ?? []), label]);
  }
  for (const [base, labels] of groups) if (labels.length < 2) groups.delete(base);
  return groups;
}

/**
 * The A/B cases of one run: two labels of one framework (`burn-cpu@base` and `burn-cpu@head`,
 * `burn-cuda` and `burn-cuda[decode-graph=off]`), compared pair by pair. Each framework that ran as
 * several labels pairs every other label with its baseline (the plain label, else `@base`); `only`
 * restricts to one (baseline, candidate) given explicitly.
 */
export function abCases(model: ResultsModel, only?: { baseline: string; candidate: string }): FileCase[] {
  const couples: Array<[string, string]> = [];
  if (only) {
    for (const label of [only.baseline, only.candidate]) {
      if (!model.labels.includes(label)) throw new Error(`${label} is not among the results' labels (${model.labels.join(", ")})`);
    }
    couples.push([only.baseline, only.candidate]);
  } else {
    for (const labels of variantGroups(model).values()) {
      const baseline = baselineOf([...labels].sort());
      for (const label of [...labels].sort()) if (label !== baseline) couples.push([baseline, label]);
    }
  }
  return couples.flatMap(([baseline, candidate]) =>
    model.promptIds.flatMap((promptId) => {
      const [b, c] = [sideOf(model, baseline, promptId), sideOf(model, candidate, promptId)];
      return b && c ? [{ promptId, baseline: b, candidate: c }] : [];
    }),
  );
}

/** Restarts that touch a case: during its prompt's requests, or outside any request (start-up), on either side. */
export function restartsIn(cases: FileCase[]): Array<{ case: FileCase; side: "baseline" | "candidate"; restart: RestartRecord }> {
  return cases.flatMap((c) =>
    (["baseline", "candidate"] as const).flatMap((side) =>
      c[side].results.restarts.filter((r) => r.prompt_id === null || r.prompt_id === c.promptId).map((restart) => ({ case: c, side, restart })),
    ),
  );
}
