import { z } from "zod";
import { Dtype } from "./model-config.ts";
import { ModelInfo, RunRecord } from "./results.ts";

/**
 * The file `qwen3-bench soak` writes (bench/harness/soak.ts): one runner process serving the same
 * greedy request many times, whether its tokens stayed the same and its memory stayed flat.
 */

/**
 * One sampled request (the first, the last, every tenth of the way between): its speed and the runner's memory
 * then. The memory fields are the results file's (RunRecord), with their units and sources.
 */
export const SoakSample = RunRecord.pick({
  started_at: true,
  ttft_secs: true,
  decode_tps: true,
  peak_rss_mb: true,
  peak_device_mb: true,
  process_memory_mb: true,
  process_memory_source: true,
}).extend({
  /** 0-based index of the request among the soak's. */
  request: z.int().nonnegative(),
});
export type SoakSample = z.infer<typeof SoakSample>;

/** One memory figure over the samples that carry it, MiB. */
export const SoakMemory = z.object({
  /**
   * `process`: measured by the harness from outside the runner (process_memory_mb; `source` says
   * how: nvml-process, nvml-device, phys-footprint, rss); `runner_peak_rss`: the runner's own peak
   * RSS so far (peak_rss_bytes); `runner_peak_device`: the framework's own device figure
   * (peak_device_bytes; what it counts: device_memory_metric).
   */
  series: z.enum(["process", "runner_peak_rss", "runner_peak_device"]),
  source: z.string(),
  /** At the first and the last sampled request, and the largest of all samples, MiB. */
  first_mib: z.number().nonnegative(),
  last_mib: z.number().nonnegative(),
  max_mib: z.number().nonnegative(),
  /** last − first, MiB (negative when it shrank); the gate compares it with max_growth_mib. */
  growth_mib: z.number(),
});
export type SoakMemory = z.infer<typeof SoakMemory>;

/** Where a request's tokens first differed from the first request's. */
export const TokenDifference = z.object({
  /** 0-based index of the request. */
  request: z.int().positive(),
  /** 0-based position among its new tokens. */
  position: z.int().nonnegative(),
  /** The first request's token there and this request's; null past the shorter of the two. */
  expected: z.int().nonnegative().nullable(),
  got: z.int().nonnegative().nullable(),
});
export type TokenDifference = z.infer<typeof TokenDifference>;

export const SoakFile = z.object({
  /** "0.1.0+<commit>" (version.ts). */
  harness_version: z.string(),
  command: z.array(z.string()),
  /** The framework label (`burn-cuda[kernels=custom]`) and what its runner said in its ready line. */
  framework: z.string(),
  framework_version: z.string(),
  backend: z.string(),
  device: z.string(),
  precision: Dtype,
  /** What the runner's own peak_device_mb counts; null on CPU or where unknown. */
  device_memory_metric: z.string().nullable(),
  model: ModelInfo,
  /** The runner's results file beside this one: its header (provenance, ready line) and any runner error. */
  results_file: z.string(),
  prompt_id: z.string(),
  prompt_token_ids: z.array(z.int().nonnegative()),
  /** Requests asked for and served (fewer when the runner failed). */
  requests: z.int().positive(),
  requests_served: z.int().nonnegative(),
  /** New tokens per request (EOS ignored, greedy). */
  new_tokens: z.int().min(2),
  /** The gate's limit on growth_mib of every memory series, MiB. */
  max_growth_mib: z.number().nonnegative(),
  started_at: z.string(),
  finished_at: z.string(),
  /** The first request's tokens, which every later request must repeat. */
  reference_token_ids: z.array(z.int().nonnegative()),
  tokens_identical: z.boolean(),
  first_difference: TokenDifference.nullable(),
  /** Served requests whose tokens differ from the first request's. */
  differing_requests: z.int().nonnegative(),
  /** Decode speed of the first and the last served request, tok/s (measure.ts decodeTps); null when none was served. */
  decode_tps_first: z.number().nonnegative().nullable(),
  decode_tps_last: z.number().nonnegative().nullable(),
  samples: z.array(SoakSample),
  memory: z.array(SoakMemory),
  /** The runner's failure (exit, hang, protocol, error reply) that ended the soak early; null when it served every request. */
  runner_error: z.string().nullable(),
  /** Why the soak failed, in words; empty when it passed. */
  failures: z.array(z.string()),
  passed: z.boolean(),
});
export type SoakFile = z.infer<typeof SoakFile>;
