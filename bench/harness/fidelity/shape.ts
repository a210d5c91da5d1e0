import { planCase, type RunnerRates } from "../budget.ts";
import type { ToolShape } from "./tool.ts";

/**
 * The shape of a tool's next per-prompt invocation, by the harness's budget planner (budget.ts,
 * planCase): the full shape until the tool has shown its speed, then what fits in the seconds the
 * tool has left after reserving the smallest shape of its later prompts: fewer timed runs, then
 * fewer new tokens, or skipped with the planner's reason. Each invocation is a fresh process, so
 * the tool is never warm (it keeps at least one warm-up).
 */
export function planToolShape(args: {
  full: ToolShape;
  promptId: string;
  promptTokens: number;
  laterPromptTokens: number[];
  /** Seconds the tool has left (its budget less the wall time of its processes so far). */
  remainingSecs: number;
  /** The tool's whole budget, seconds. */
  budgetSecs: number;
  /** Its speeds so far (median of its last invocation's runs), or null before its first. */
  rates: RunnerRates | null;
}): { shape: ToolShape } | { skipped: string } {
  const { full } = args;
  if (!args.rates) return { shape: full };
  const plan = planCase({
    promptId: args.promptId,
    promptTokens: args.promptTokens,
    laterPromptTokens: args.laterPromptTokens,
    remainingSecs: args.remainingSecs,
    rates: args.rates,
    runnerWarm: false,
    profile: { max_new_tokens: full.newTokens, warmup_iterations: full.warmup, timed_iterations: full.repeats, cooldown_secs: 0 },
    budget: { secs: args.budgetSecs, min_new_tokens: Math.min(8, full.newTokens), min_timed_iterations: Math.min(2, full.repeats) },
  });
  if ("skipped" in plan) return { skipped: plan.skipped };
  return { shape: { newTokens: plan.shape.maxNewTokens, warmup: plan.shape.warmupIterations, repeats: plan.shape.timedIterations } };
}
