// The running progress a user watches on stderr: every line carries the time since `vitest bench`
// started, and each case's plan is followed by an estimate of what is left.
import { formatSecs } from "./budget.ts";
import type { Profile } from "./schema/prompts.ts";
import { harnessVariable } from "./settings.ts";

/** Environment variable through which workers learn when the run (its global setup) started, ms since the epoch. */
export const RUN_STARTED_ENV = "QWEN3_BENCH_STARTED_MS";

/** When the run started: the global setup's stamp, or this process's start. */
function runStartedMs(): number {
  const stamp = Number(harnessVariable(RUN_STARTED_ENV));
  return Number.isFinite(stamp) && stamp > 0 ? stamp : Date.now() - process.uptime() * 1000;
}

/** "[1:42] line": minutes and seconds since the run started. */
export function withElapsed(line: string, nowMs = Date.now(), startedMs = runStartedMs()): string {
  const secs = Math.max(0, Math.round((nowMs - startedMs) / 1000));
  return `[${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}] ${line}`;
}

/** Writes one progress line to stderr, stamped with the time since the run started. */
export const printProgress = (line: string): void => void process.stderr.write(`${withElapsed(line)}\n`);

/**
 * What is left after a framework's case is planned: its own remaining request time (estimated from
 * its speeds) and, for the frameworks still to come, their budgets when the profile has one.
 */
export function etaLine(plan: { frameworks: { name: string; available: boolean }[]; profile: Profile }, framework: string, promptId: string, frameworkSecsLeft: number): string {
  const index = plan.frameworks.findIndex((f) => f.name === framework);
  const later = plan.frameworks.slice(index + 1).filter((f) => f.available).map((f) => f.name);
  const own = `[${framework} ${promptId}] ETA: ${framework} ≈ ${formatSecs(frameworkSecsLeft)} more`;
  if (!later.length) return `${own}, then the report`;
  const budget = plan.profile.budget;
  if (!budget) return `${own}, then ${later.join(", ")} (timed once warm)`;
  const laterSecs = later.length * budget.secs;
  return `${own}; run ≈ ${formatSecs(frameworkSecsLeft + laterSecs)} more plus start-ups (${later.join(", ")}: ≤ ${formatSecs(budget.secs)} of requests each)`;
}
