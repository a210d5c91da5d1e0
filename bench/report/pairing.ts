// A/B pairs: two labels of one framework in one run (`burn-cpu@base` and `burn-cpu@head`,
// `burn-cuda` and `burn-cuda[decode-graph=off]`). Timed run i of each label on a prompt forms pair
// i; with interleaving the two were sent back to back, so a shift of the host's speed falls on both
// and cancels in their ratio. The pair's ratio is the unit of evidence: its median over the pairs,
// with a percentile-bootstrap interval over the pairs (bench/stats/bootstrap.ts).
import { isPlainLabel, parseFrameworkLabel } from "../harness/framework-label.ts";
import type { RunRecord } from "../harness/schema/results.ts";
import { bootstrapMedianCi, type ConfidenceInterval } from "../stats/bootstrap.ts";
import { median } from "../stats/median.ts";
import type { ResultsModel } from "./summary.ts";

/** One prompt of an A/B pair of labels. */
export interface PairedComparison {
  /** Label the other is measured against ("A"). */
  baseline: string;
  /** Label measured ("B"). */
  candidate: string;
  /** The prompt, or ALL_PROMPTS for the pairs of every prompt pooled. */
  promptId: string;
  /** Pairs: timed runs present for both labels with the same iteration index. */
  pairs: number;
  /** True when every pair's two runs were sent back to back (A_i, B_i, then A_i+1...), as interleaving does. */
  interleaved: boolean;
  /** Median over pairs of candidate decode tok/s ÷ baseline decode tok/s (above 1: the candidate is faster), with its 95 % interval. */
  decodeTpsRatio: ConfidenceInterval;
  /** Median over pairs of candidate median step latency ÷ baseline's (above 1: the candidate is slower per token), with its 95 % interval. */
  stepLatencyRatio: ConfidenceInterval;
  /** Each pair's candidate ÷ baseline decode tok/s, in iteration order. */
  decodeTpsRatios: number[];
  /** Each pair's candidate ÷ baseline median step latency (TTFT excluded), in iteration order. */
  stepLatencyRatios: number[];
}

/** promptId of a pooled comparison. */
export const ALL_PROMPTS = "all prompts";

/** How a pair's speed ratio reads against a noise band. */
export type PairVerdict = "slower" | "faster" | "within noise" | "not significant";

/** A time ratio (B ÷ A, above 1 = slower) as a speed ratio (above 1 = faster), interval bounds swapped. */
export const speedFromTimeRatio = (time: ConfidenceInterval): ConfidenceInterval => ({ ...time, estimate: 1 / time.estimate, low: 1 / time.high, high: 1 / time.low });

/**
 * The verdict on a speed ratio (B ÷ A, above 1 = faster): a change beyond the noise band (relative, e.g. 0.02) whose 95 %
 * interval excludes 1 is "slower" or "faster"; a change inside the band is "within noise"; one
 * beyond it whose interval includes 1 is "not significant".
 */
export function pairVerdict(ratio: ConfidenceInterval, noise: number): PairVerdict {
  const change = ratio.estimate - 1;
  if (Math.abs(change) <= noise) return "within noise";
  if (change < 0) return ratio.high < 1 ? "slower" : "not significant";
  return ratio.low > 1 ? "faster" : "not significant";
}

const stepMedianMs = (run: RunRecord): number => median(run.per_token_latencies_ms.slice(1));

/** Whether the runs alternate in time pair by pair: both runs of pair i start before either of pair i + 1. */
function alternate(a: RunRecord[], b: RunRecord[]): boolean {
  const t = (run: RunRecord) => Date.parse(run.started_at);
  for (let i = 0; i + 1 < a.length; i++) if (Math.max(t(a[i]), t(b[i])) > Math.min(t(a[i + 1]), t(b[i + 1]))) return false;
  return true;
}

/** Compares the timed runs of two labels on one prompt, pair by pair; null when they share no iteration. */
export function compareRunPairs(baseline: string, candidate: string, promptId: string, baselineRuns: RunRecord[], candidateRuns: RunRecord[]): PairedComparison | null {
  const a: RunRecord[] = [];
  const b: RunRecord[] = [];
  for (const run of baselineRuns) {
    const other = candidateRuns.find((r) => r.iteration === run.iteration);
    if (other) {
      a.push(run);
      b.push(other);
    }
  }
  if (a.length === 0) return null;
  const decodeTpsRatios = a.map((run, i) => b[i].decode_tps / run.decode_tps);
  const stepLatencyRatios = a.map((run, i) => stepMedianMs(b[i]) / stepMedianMs(run));
  return {
    baseline,
    candidate,
    promptId,
    pairs: a.length,
    interleaved: alternate(a, b),
    decodeTpsRatio: bootstrapMedianCi(decodeTpsRatios),
    stepLatencyRatio: bootstrapMedianCi(stepLatencyRatios),
    decodeTpsRatios,
    stepLatencyRatios,
  };
}

/**
 * The pairs of every prompt of one (baseline, candidate) pooled into one comparison: a ratio is
 * comparable across prompts (a build 10 % slower per step is so on each), and three prompts of three
 * pairs give nine, which a median's interval needs more than any one prompt's three.
 */
export function pooledComparison(comparisons: PairedComparison[]): PairedComparison {
  const [first] = comparisons;
  if (!first || comparisons.some((c) => c.baseline !== first.baseline || c.candidate !== first.candidate)) throw new Error("pooledComparison: give the comparisons of one (baseline, candidate)");
  const decodeTpsRatios = comparisons.flatMap((c) => c.decodeTpsRatios);
  const stepLatencyRatios = comparisons.flatMap((c) => c.stepLatencyRatios);
  return {
    baseline: first.baseline,
    candidate: first.candidate,
    promptId: ALL_PROMPTS,
    pairs: decodeTpsRatios.length,
    interleaved: comparisons.every((c) => c.interleaved),
    decodeTpsRatio: bootstrapMedianCi(decodeTpsRatios),
    stepLatencyRatio: bootstrapMedianCi(stepLatencyRatios),
    decodeTpsRatios,
    stepLatencyRatios,
  };
}

/**
 * The baseline of a framework's labels: the plain framework if it ran, else the build named "base",
 * else the first label in sort order.
 */
function baselineOf(labels: string[]): string {
  const parsed = labels.map((label) => ({ label, ...parseFrameworkLabel(label) }));
  return (parsed.find(isPlainLabel) ?? parsed.find((p) => p.build === "base" && p.flags.length === 0) ?? parsed[0]).label;
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
 * Every A/B comparison in a results model: each framework that ran as several labels pairs every
 * other label with its baseline (the plain label, else `@base`), per prompt and, where there are
 * several prompts, pooled over them (ALL_PROMPTS, last). `only` restricts to one (baseline,
 * candidate) pair, given explicitly.
 */
export function pairedComparisons(model: ResultsModel, only?: { baseline: string; candidate: string }): PairedComparison[] {
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
  const out: PairedComparison[] = [];
  for (const [baseline, candidate] of couples) {
    const perPrompt: PairedComparison[] = [];
    for (const promptId of model.promptIds) {
      const runsOf = (label: string) => model.summaries.find((s) => s.label === label && s.promptId === promptId)?.runs ?? [];
      const comparison = compareRunPairs(baseline, candidate, promptId, runsOf(baseline), runsOf(candidate));
      if (comparison) perPrompt.push(comparison);
    }
    out.push(...perPrompt);
    if (perPrompt.length > 1) out.push(pooledComparison(perPrompt));
  }
  return out;
}
