/**
 * The model's context window as a hard limit of the plan: a case whose prompt tokens plus its new
 * tokens pass config.json's `max_position_embeddings` is refused here, before any runner sees it
 * (runners used to accept a 50,000-token prompt for a 40,960-position model, and a cold Burn CUDA
 * runner took minutes to answer it).
 */

/** One planned case as the limit sees it. */
export interface ContextCase {
  /** Prompt id ("long", "short-d32768"). */
  id: string;
  /** Prompt tokens after the chat template (for a depth case: the depth). */
  promptTokens: number;
  /** Where the case came from, for the error: the prompts file, or "BENCH_DEPTHS=...". */
  source: string;
}

/** The limit and where each number came from. */
export interface ContextLimit {
  /** config.json's max_position_embeddings, positions. */
  maxPositions: number;
  /** The config.json it was read from. */
  configFile: string;
  /** New tokens per generate request (the profile's, or BENCH_MAX_NEW_TOKENS). */
  maxNewTokens: number;
  /** Where maxNewTokens came from ("BENCH_MAX_NEW_TOKENS", "bench/prompts.json config.profiles.quick.max_new_tokens"). */
  maxNewTokensSource: string;
}

/** The cases that do not fit, as one message per case; empty when every case fits. */
export function contextOverflows(cases: ContextCase[], limit: ContextLimit): string[] {
  return cases
    .filter((c) => c.promptTokens + limit.maxNewTokens > limit.maxPositions)
    .map(
      (c) =>
        `${c.source}: prompt ${JSON.stringify(c.id)} is ${c.promptTokens} tokens + ${limit.maxNewTokens} new tokens (${limit.maxNewTokensSource}) = ` +
        `${c.promptTokens + limit.maxNewTokens} positions, over the model's max_position_embeddings of ${limit.maxPositions} (${limit.configFile})`,
    );
}

/** Throws one error listing every case that does not fit the model's context window. */
export function checkContextFits(cases: ContextCase[], limit: ContextLimit): void {
  const overflows = contextOverflows(cases, limit);
  if (overflows.length === 0) return;
  throw new Error(`the model cannot hold ${overflows.length === 1 ? "this case" : "these cases"}; shorten the prompt, lower the depth or the new tokens:\n  ${overflows.join("\n  ")}`);
}
