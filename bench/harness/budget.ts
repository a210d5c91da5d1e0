// A runner's time budget (criterion's "measurement time"): the quick profile gives every runner a
// fixed number of seconds of requests, and each (framework, prompt) case is shaped to fit from the
// speeds the runner showed so far: fewer timed runs, then fewer new tokens, then skipped. A slow
// runner (mlx-cpu's reference BLAS: ~1 tok/s, minutes of prefill on the long prompt) is still
// measured on what fits, and the results and the report say what was trimmed and why.
import type { Budget, Profile } from "./schema/prompts.ts";

/** A runner's speeds as its latest request showed them. */
export interface RunnerRates {
  /** Prompt tokens per second of TTFT (prefill plus the first argmax). */
  prefillTps: number;
  /** Decode tokens per second after the first token. */
  decodeTps: number;
}

/** The requests of one (framework, prompt) case. */
export interface CaseShape {
  warmupIterations: number;
  /** New tokens of each warm-up request. */
  warmupNewTokens: number;
  timedIterations: number;
  /** New tokens of each timed request (the agreement check scores as many). */
  maxNewTokens: number;
}

/** What the budget decided for one case. */
export type CasePlan =
  | { promptId: string; shape: CaseShape; trimmed: boolean; estimatedSecs: number }
  | { promptId: string; skipped: string; estimatedSecs: number };

/** The profile's case, untouched (no budget, or `BENCH_PROFILE=full`). */
export const profileShape = (profile: Profile): CaseShape => ({
  warmupIterations: profile.warmup_iterations,
  warmupNewTokens: profile.max_new_tokens,
  timedIterations: profile.timed_iterations,
  maxNewTokens: profile.max_new_tokens,
});

/** Estimated seconds of one generate request: prefill at the prefill rate, then N − 1 decode steps. */
export const requestSecs = (promptTokens: number, newTokens: number, rates: RunnerRates): number =>
  promptTokens / rates.prefillTps + (newTokens - 1) / rates.decodeTps;

/** Estimated seconds of a case: its warm-ups, its timed runs and the agreement `score` (a prefill over prompt + continuation). */
export function caseSecs(promptTokens: number, shape: CaseShape, rates: RunnerRates): number {
  return (
    shape.warmupIterations * requestSecs(promptTokens, shape.warmupNewTokens, rates) +
    shape.timedIterations * requestSecs(promptTokens, shape.maxNewTokens, rates) +
    (promptTokens + shape.maxNewTokens) / rates.prefillTps
  );
}

/**
 * Shapes from the smallest a budget allows to the profile's own, each costing at least as much as the
 * one before: timed runs grow first (an interval needs samples), then warm-ups, then new tokens.
 * Under a budget warm-ups generate `min_new_tokens` only: they are untimed and there to exercise the
 * prefill and decode paths, not to measure.
 */
export function candidateShapes(profile: Profile, budget: Budget, runnerWarm: boolean): CaseShape[] {
  const minTokens = Math.min(budget.min_new_tokens, profile.max_new_tokens);
  const minTimed = Math.min(budget.min_timed_iterations, profile.timed_iterations);
  // A warm runner needs no warm-up to be timed; a cold one gets one, whatever the budget.
  const minWarmup = runnerWarm ? 0 : Math.min(1, profile.warmup_iterations);
  const shape: CaseShape = { warmupIterations: minWarmup, warmupNewTokens: minTokens, timedIterations: minTimed, maxNewTokens: minTokens };
  const shapes = [{ ...shape }];
  while (shape.timedIterations < profile.timed_iterations) shapes.push({ ...shape, timedIterations: ++shape.timedIterations });
  while (shape.warmupIterations < profile.warmup_iterations) shapes.push({ ...shape, warmupIterations: ++shape.warmupIterations });
  while (shape.maxNewTokens < profile.max_new_tokens) shapes.push({ ...shape, maxNewTokens: ++shape.maxNewTokens });
  return shapes;
}

/**
 * Plans the next case of a runner within what is left of its budget. The case gets its smallest
 * shape, plus a share of the slack proportional to how much its full shape costs over its smallest,
 * after reserving the smallest shape of every later case that can still fit (later cases the budget
 * cannot reach are not reserved: they will be skipped when their turn comes).
 */
export function planCase(args: {
  promptId: string;
  promptTokens: number;
  /** Prompt tokens of the cases this runner runs after this one, in order. */
  laterPromptTokens: number[];
  /** Budget seconds the runner has left. */
  remainingSecs: number;
  rates: RunnerRates;
  /** True when the runner already answered a request (no warm-up needed to be timed). */
  runnerWarm: boolean;
  /** True for a runner's first case: it runs at least its smallest shape whatever the budget, so every runner is measured. */
  mustRun?: boolean;
  profile: Profile;
  budget: Budget;
}): CasePlan {
  const { profile, budget, rates } = args;
  const shapes = candidateShapes(profile, budget, args.runnerWarm);
  const cost = (tokens: number, shape: CaseShape) => caseSecs(tokens, shape, rates);
  const minimum = shapes[0];
  const minimumSecs = cost(args.promptTokens, minimum);
  if (minimumSecs > args.remainingSecs && args.mustRun) return { promptId: args.promptId, shape: minimum, trimmed: true, estimatedSecs: minimumSecs };
  if (minimumSecs > args.remainingSecs) {
    return {
      promptId: args.promptId,
      skipped:
        `its smallest case (${minimum.timedIterations} timed runs of ${minimum.maxNewTokens} new tokens) would take ≈${formatSecs(minimumSecs)} ` +
        `at this runner's ${rates.prefillTps.toFixed(1)} tok/s prefill and ${rates.decodeTps.toFixed(2)} tok/s decode, over the ${formatSecs(Math.max(0, args.remainingSecs))} left of its ${formatSecs(budget.secs)} budget`,
      estimatedSecs: minimumSecs,
    };
  }
  const full = shapes[shapes.length - 1];
  let reserved = 0;
  const extras = [cost(args.promptTokens, full) - minimumSecs];
  for (const tokens of args.laterPromptTokens) {
    const later = candidateShapes(profile, budget, true);
    const laterMin = cost(tokens, later[0]);
    if (minimumSecs + reserved + laterMin > args.remainingSecs) continue;
    reserved += laterMin;
    extras.push(cost(tokens, later[later.length - 1]) - laterMin);
  }
  const slack = args.remainingSecs - minimumSecs - reserved;
  const totalExtra = extras.reduce((a, b) => a + b, 0);
  const allowance = minimumSecs + (totalExtra > 0 ? Math.min(1, slack / totalExtra) * extras[0] : 0);
  const fits = shapes.filter((s) => cost(args.promptTokens, s) <= allowance + 1e-9);
  const shape = fits[fits.length - 1];
  const trimmed = shape.timedIterations < full.timedIterations || shape.maxNewTokens < full.maxNewTokens || shape.warmupIterations < full.warmupIterations;
  return { promptId: args.promptId, shape, trimmed, estimatedSecs: cost(args.promptTokens, shape) };
}

/** "42 s", "2 min", "3 min 5 s" (negative: "0 s"). */
export function formatSecs(secs: number): string {
  const s = Math.max(0, Math.round(secs));
  if (s < 60) return `${s} s`;
  return s % 60 === 0 ? `${s / 60} min` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/**
 * One runner's budget over a run: the request seconds it spent so far and its latest speeds. The
 * harness adds every request's wall time (warm-up, timed, agreement) and plans each case from it.
 */
export class RunnerBudget {
  private spentSecs = 0;
  private latest: RunnerRates | null = null;
  private measuredCases = 0;

  readonly budget: Budget;
  private readonly profile: Profile;
  /** Prompt token counts of this runner's cases, by prompt id, in run order. */
  private readonly prompts: { id: string; tokens: number }[];

  constructor(budget: Budget, profile: Profile, prompts: { id: string; tokens: number }[]) {
    this.budget = budget;
    this.profile = profile;
    this.prompts = prompts;
  }

  get rates(): RunnerRates | null {
    return this.latest;
  }

  /** Budget seconds left; negative once a runner's first case overran it. */
  get remainingSecs(): number {
    return this.budget.secs - this.spentSecs;
  }

  /** Counts a finished request: its wall time, seconds, and the rates it showed (null for a `score`). */
  record(wallSecs: number, rates: RunnerRates | null): void {
    this.spentSecs += wallSecs;
    if (rates && rates.prefillTps > 0 && rates.decodeTps > 0) this.latest = rates;
  }

  /** The first request of a runner: a warm-up of `min_new_tokens` that measures its speeds. */
  calibrationShape(): CaseShape {
    const tokens = Math.min(this.budget.min_new_tokens, this.profile.max_new_tokens);
    return { warmupIterations: 1, warmupNewTokens: tokens, timedIterations: 1, maxNewTokens: tokens };
  }

  /** Estimated request seconds of a later case at its full shape (the runner warm), from the latest rates. */
  estimateSecs(promptTokens: number): number {
    if (!this.latest) return 0;
    const shapes = candidateShapes(this.profile, this.budget, true);
    return caseSecs(promptTokens, shapes[shapes.length - 1], this.latest);
  }

  /** Plans the case of `promptId`; call after at least one request recorded its rates. */
  plan(promptId: string, runnerWarm: boolean): CasePlan {
    if (!this.latest) throw new Error("RunnerBudget.plan: no rates yet (run the calibration request first)");
    const index = this.prompts.findIndex((p) => p.id === promptId);
    if (index < 0) throw new Error(`RunnerBudget.plan: unknown prompt ${JSON.stringify(promptId)}`);
    const plan = planCase({
      mustRun: this.measuredCases === 0,
      promptId,
      promptTokens: this.prompts[index].tokens,
      laterPromptTokens: this.prompts.slice(index + 1).map((p) => p.tokens),
      remainingSecs: this.remainingSecs,
      rates: this.latest,
      runnerWarm,
      profile: this.profile,
      budget: this.budget,
    });
    if ("shape" in plan) this.measuredCases++;
    return plan;
  }
}

/**
 * The profile a run uses: the chosen profile with the hand-set counts applied. Its budget stays unless
 * BENCH_BUDGET_SECS says otherwise (0: none) or counts were set by hand without one (they run as asked).
 */
export function resolveProfile(
  profile: Profile,
  overrides: { max_new_tokens?: number; warmup_iterations?: number; timed_iterations?: number },
  budgetSecs: number | undefined,
): Profile {
  const { budget, ...counts } = { ...profile, ...overrides };
  const handSet = Object.keys(overrides).length > 0;
  if (budgetSecs === 0 || (budgetSecs === undefined && (handSet || !budget))) return counts;
  if (budgetSecs === undefined) return { ...counts, budget };
  return { ...counts, budget: { min_new_tokens: 8, min_timed_iterations: 2, ...budget, secs: budgetSecs } };
}
