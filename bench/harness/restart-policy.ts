// What a runner restart costs a case, decided once: after a restart (a crash, or a process retired
// by BENCH_RUNS_PER_PROCESS) the case's warm-ups are repeated before its next timed request, since a
// fresh process's first requests are slow. The session repeats them; the bench file's timeout allows
// for them.
import type { CaseShape } from "./budget.ts";
import type { BenchPlan } from "./plan.ts";

/** Warm-up requests repeated after a restart: the case's own warm-ups, at least one. */
export const rewarmRequests = (shape: Pick<CaseShape, "warmupIterations">): number => Math.max(1, shape.warmupIterations);

/**
 * The longest one case may take, milliseconds: every request at its own timeout (the runner is killed
 * past it): its warm-ups, their repetition after a restart, its timed runs, a time budget's
 * calibration request and the agreement `score`; and two runner starts at the start-up timeout.
 */
export function worstCaseMs(plan: Pick<BenchPlan, "profile" | "requestTimeoutMs" | "startupTimeoutMs">): number {
  const { warmup_iterations, timed_iterations } = plan.profile;
  const requests = warmup_iterations + rewarmRequests({ warmupIterations: warmup_iterations }) + timed_iterations + 2;
  return requests * plan.requestTimeoutMs + 2 * plan.startupTimeoutMs;
}
