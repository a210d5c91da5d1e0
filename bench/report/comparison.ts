import { bootstrapMedianRatioCi, type ConfidenceInterval } from "../stats/bootstrap.ts";
import { mannWhitneyU } from "../stats/mann-whitney.ts";

/** How one sample of decode speeds compares with a baseline sample. */
export interface DecodeComparison {
  /** median(candidate) / median(baseline), unitless (1.10 = 10 % faster), with its 95 % bootstrap interval. */
  ratio: ConfidenceInterval;
  /** Two-sided Mann-Whitney U p-value of "same distribution". */
  p: number;
  pMethod: "exact" | "asymptotic";
  /** The smallest p the rank test can give with these sample sizes (exact test, no ties): 2 / C(n1 + n2, n1). */
  pFloor: number;
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}

/** Compares per-run decode tok/s of a candidate with a baseline's (independent runs). */
export function compareDecodeTps(baseline: number[], candidate: number[]): DecodeComparison {
  const test = mannWhitneyU(candidate, baseline);
  return {
    ratio: bootstrapMedianRatioCi(candidate, baseline),
    p: test.p,
    pMethod: test.method,
    pFloor: Math.min(1, 2 / binomial(baseline.length + candidate.length, Math.min(baseline.length, candidate.length))),
  };
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
