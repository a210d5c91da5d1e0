// The order requests are sent in. Each (framework, prompt) case is a Vitest bench case that reports
// its own runs, but the runs are taken here: one framework's case in a block, or, interleaved, every
// framework's case of a prompt at once, one request of each in turn (A, B, C, A, B, C, ...), so a
// shift of the host's speed during the prompt falls on every framework alike and A/B pairs of one
// framework see the same drift. Every request still goes through FrameworkSession.measure.
import { setTimeout as sleep } from "node:timers/promises";
import type { CaseShape } from "./budget.ts";
import type { RunRecord } from "./schema/results.ts";
import type { FrameworkSession } from "./session.ts";
import type { TokenizedPrompt } from "./tokenize.ts";

/** What one (framework, prompt) case measured. */
export interface CaseOutcome {
  framework: string;
  promptId: string;
  /** The requests the case was planned with; null when it did not get that far (start-up failed). */
  shape: CaseShape | null;
  /** Why the case ran nothing (its runner's time budget); null when it ran. */
  skipped: string | null;
  /** The planned warm-ups (those the session repeats after a runner restart are in the results file only). */
  warmupRuns: RunRecord[];
  /** Timed requests, in order. */
  runs: RunRecord[];
  /** Failed requests (crash, timeout, protocol break, start-up), in order; any fails the case. */
  errors: Error[];
}

/**
 * A case stops after this many failed requests. After the first, the runner is restarted and the
 * warm-up repeated before the next timed request (runner-slot.ts, warmups.ts), so the rest of the case is still
 * measured; a runner that fails again is left alone for this prompt.
 */
export const MAX_FAILURES_PER_CASE = 2;

/** One case being run: its session, its plan and where it stands. */
interface ActiveCase {
  session: FrameworkSession;
  outcome: CaseOutcome;
  /** Next request index (warm-ups first, then timed runs, as session.measure counts them). */
  next: number;
  /** Requests in all: warm-ups plus timed runs. */
  total: number;
  stopped: boolean;
}

async function startCase(session: FrameworkSession, prompt: TokenizedPrompt, startError?: Error): Promise<ActiveCase> {
  const outcome: CaseOutcome = { framework: session.name, promptId: prompt.id, shape: null, skipped: null, warmupRuns: [], runs: [], errors: [] };
  const active: ActiveCase = { session, outcome, next: 0, total: 0, stopped: true };
  if (startError) {
    outcome.errors.push(startError);
    return active;
  }
  try {
    const plan = await session.planCase(prompt);
    if ("skipped" in plan) {
      outcome.skipped = plan.skipped;
      return active;
    }
    outcome.shape = plan.shape;
    Object.assign(active, { next: plan.firstRequest, total: plan.shape.warmupIterations + plan.shape.timedIterations, stopped: false });
  } catch (e) {
    outcome.errors.push(e as Error);
  }
  return active;
}

/** Sends the next request of a case and files its run or its failure. */
async function step(c: ActiveCase, prompt: TokenizedPrompt, cooldown: boolean): Promise<void> {
  const shape = c.outcome.shape!;
  const iteration = c.next++;
  try {
    const run = await c.session.measure(prompt, iteration, shape, { cooldown });
    (iteration < shape.warmupIterations ? c.outcome.warmupRuns : c.outcome.runs).push(run);
  } catch (e) {
    c.outcome.errors.push(e as Error);
    if (c.outcome.errors.length >= MAX_FAILURES_PER_CASE || c.session.startFailed) c.stopped = true;
  }
  if (c.next >= c.total) c.stopped = true;
}

/**
 * Runs the cases of one prompt for the given sessions, rotating request by request: each round
 * sends every unfinished case's next request, in the sessions' order. With one session this is the
 * plain block of one case.
 */
export async function runRotation(sessions: FrameworkSession[], prompt: TokenizedPrompt, opts: { parallelStart?: boolean } = {}): Promise<CaseOutcome[]> {
  // BENCH_PARALLEL_START: the rotation's runners not yet running start all at once (their load
  // times then overlap and say so in the results); one that fails to start fails its case only.
  const startErrors = new Map<FrameworkSession, Error>();
  if (opts.parallelStart && sessions.length > 1) {
    await Promise.all(sessions.map((s) => s.ensureRunner().catch((e: unknown) => void startErrors.set(s, e as Error))));
  }
  const cases: ActiveCase[] = [];
  for (const session of sessions) cases.push(await startCase(session, prompt, startErrors.get(session)));
  // Rotating, the profile's cool-down comes once per round, before a round that holds a timed
  // request after a case's first (each request's own cool-down would idle the GPU once per label).
  const rotating = cases.length > 1;
  const cooldownSecs = sessions[0]?.cooldownSecs ?? 0;
  while (cases.some((c) => !c.stopped)) {
    const timedAgain = cases.some((c) => !c.stopped && c.outcome.shape && c.next > c.outcome.shape.warmupIterations);
    if (rotating && cooldownSecs > 0 && timedAgain) await sleep(cooldownSecs * 1000);
    for (const c of cases) if (!c.stopped) await step(c, prompt, !rotating);
  }
  return cases.map((c) => c.outcome);
}

/**
 * Hands each bench case its outcome, measuring on first demand: its own block (interleave off) or
 * the rotation of every session's case of that prompt (interleave on), run once for the prompt.
 */
export class CaseScheduler {
  private readonly sessions: Map<string, FrameworkSession>;
  private readonly interleave: boolean;
  private readonly measured = new Map<string, Promise<CaseOutcome[]>>();
  private readonly parallelStart: boolean;

  /** `sessions` in run order (the reference first); `parallelStart` (interleaved only): start their runners at once. */
  constructor(sessions: Map<string, FrameworkSession>, interleave: boolean, parallelStart = false) {
    this.sessions = sessions;
    this.interleave = interleave;
    this.parallelStart = parallelStart;
  }

  /**
   * The longest one bench case may take, milliseconds: its session's worst case (runner-slot.ts) or,
   * interleaved, every session's, since the first case of a prompt measures them all.
   */
  get caseTimeoutMs(): number {
    const worst = [...this.sessions.values()].map((s) => s.worstCaseMs);
    return this.interleave ? worst.reduce((a, b) => a + b, 0) : Math.max(0, ...worst);
  }

  async outcome(framework: string, prompt: TokenizedPrompt): Promise<CaseOutcome> {
    const session = this.sessions.get(framework);
    if (!session) throw new Error(`no session for ${framework}`);
    const key = this.interleave ? prompt.id : `${framework}\u0000${prompt.id}`;
    let outcomes = this.measured.get(key);
    if (!outcomes) {
      outcomes = runRotation(this.interleave ? [...this.sessions.values()] : [session], prompt, { parallelStart: this.parallelStart });
      this.measured.set(key, outcomes);
    }
    return (await outcomes).find((o) => o.framework === framework)!;
  }
}
