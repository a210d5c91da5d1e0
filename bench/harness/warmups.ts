// How many warm-up requests a case still needs, decided in one place. A case's shape plans its
// warm-ups (its first requests, untimed). A request that already served as one (a time budget's
// calibration request, a runner's first) is not sent again. After the runner was replaced (a crash,
// or a process retired by BENCH_RUNS_PER_PROCESS), the next timed request waits for the case's
// warm-ups again, at least one, since a fresh process's first requests are slow.
import type { CaseShape } from "./budget.ts";

/** Where a case's warm-ups stand. */
export interface WarmupState {
  /** Warm-up requests the case's shape plans. */
  planned: number;
  /** Warm-ups of this case already served (the calibration request, or the case's own). */
  done: number;
  /** True when the runner process was replaced (restarted or retired) and has served no warm-up since. */
  replaced: boolean;
}

/** Warm-up requests the case still needs before its next timed request. */
export function warmupsNeeded({ planned, done, replaced }: WarmupState): number {
  return replaced ? Math.max(1, planned) : Math.max(0, planned - done);
}

/**
 * A planned case once `done` of its warm-ups were served before it was planned: its shape counts them
 * (at least `done` warm-ups) and its requests start after them, at index `firstRequest`.
 */
export function startAfterWarmups(shape: CaseShape, done: number): { shape: CaseShape; firstRequest: number } {
  const needed = warmupsNeeded({ planned: shape.warmupIterations, done, replaced: false });
  return { shape: { ...shape, warmupIterations: done + needed }, firstRequest: done };
}

/** The most warm-up requests one case can send: its own, then all of them again after a runner restart. */
export const worstCaseWarmups = (planned: number): number => planned + warmupsNeeded({ planned, done: planned, replaced: true });
