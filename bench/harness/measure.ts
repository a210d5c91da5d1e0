import type { GenerateReply } from "./schema/protocol.ts";
import type { RunRecord } from "./schema/results.ts";

const MIB = 1024 * 1024;

/**
 * The protocol's decode speed, tok/s: the N − 1 tokens after the first over `decodeSecs`, the
 * seconds from the first token to the last (t[N−1] − t[0]); 0 when that time is not positive.
 */
export const decodeTps = (tokens: number, decodeSecs: number): number => (decodeSecs > 0 ? (tokens - 1) / decodeSecs : 0);

/**
 * Turns a runner's generate reply into a run record, by the protocol's definitions:
 * TTFT = t[0]; decode tok/s = (N − 1) / (t[N−1] − t[0]); prefill tok/s = prompt tokens / TTFT.
 * Throws when the reply breaks the timing rules (wrong token count, times going backwards).
 */
export function runRecord(args: {
  promptId: string;
  iteration: number;
  promptTokenIds: number[];
  maxNewTokens: number;
  reply: GenerateReply;
  roundTripNs: number;
  startedAt: Date;
}): RunRecord {
  const { reply } = args;
  const times = reply.token_times_ns;
  const n = reply.token_ids.length;
  if (n !== args.maxNewTokens) throw new Error(`generated ${n} tokens, asked for exactly ${args.maxNewTokens} (EOS must be ignored)`);
  if (times.length !== n) throw new Error(`token_times_ns has ${times.length} entries for ${n} tokens`);
  for (let i = 1; i < n; i++) {
    if (times[i] < times[i - 1]) throw new Error(`token_times_ns[${i}] = ${times[i]} is before token_times_ns[${i - 1}] = ${times[i - 1]}`);
  }
  const ttftSecs = times[0] / 1e9;
  const decodeSecs = (times[n - 1] - times[0]) / 1e9;
  return {
    prompt_id: args.promptId,
    iteration: args.iteration,
    prompt_token_ids: args.promptTokenIds,
    prompt_tokens: args.promptTokenIds.length,
    token_ids: reply.token_ids,
    tokens_generated: n,
    per_token_latencies_ms: times.map((t, i) => (t - (i === 0 ? 0 : times[i - 1])) / 1e6),
    ttft_secs: ttftSecs,
    decode_time_secs: decodeSecs,
    total_time_secs: times[n - 1] / 1e9,
    decode_tps: decodeTps(n, decodeSecs),
    prefill_tps: ttftSecs > 0 ? args.promptTokenIds.length / ttftSecs : 0,
    peak_rss_mb: reply.peak_rss_bytes / MIB,
    peak_device_mb: reply.peak_device_bytes === null ? null : reply.peak_device_bytes / MIB,
    harness_overhead_ms: (args.roundTripNs - reply.total_time_ns) / 1e6,
    started_at: args.startedAt.toISOString(),
  };
}
