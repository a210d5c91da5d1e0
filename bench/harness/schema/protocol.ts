import { z } from "zod";
import { Dtype } from "./model-config.ts";

/** Runner protocol version this harness speaks (runners/PROTOCOL.md). */
export const PROTOCOL_VERSION = 1;

const TokenIds = z.array(z.int().nonnegative());

/**
 * How a runner binary was built, as it embeds it at build time (optional in `ready`): lets a results
 * file say which code produced the numbers, not only which framework version.
 */
export const RunnerBuild = z.object({
  /** Commit of the runner's source (git describe or hash) at build time. */
  commit: z.string().optional(),
  /** True when the source tree had uncommitted changes at build time. */
  dirty: z.boolean().optional(),
  /** Compile-time features enabled (Cargo features, build flags). */
  features: z.array(z.string()).optional(),
  /** Build profile: "release", "debug", ... */
  profile: z.string().optional(),
  /** When the binary was built, ISO 8601. */
  built_at: z.string().optional(),
});
export type RunnerBuild = z.infer<typeof RunnerBuild>;

/** Line a runner prints once its model is loaded. */
export const ReadyMessage = z.object({
  op: z.literal("ready"),
  protocol_version: z.literal(PROTOCOL_VERSION),
  framework: z.string().min(1),
  /** Version of the framework library itself (mlx-lm, transformers+torch, burn). */
  framework_version: z.string().min(1),
  /** Framework backend: cpu, cuda, metal, wgpu-vulkan, mps, ... */
  backend: z.string().min(1),
  /** Device name as the framework reports it. */
  device: z.string().min(1),
  /** Dtype actually used for weights and activations. */
  dtype: Dtype,
  parameter_count: z.int().positive(),
  /** Wall time from process start to `ready`, milliseconds. */
  load_time_ms: z.number().nonnegative(),
  /** Kernel fusion on/off where the framework has the switch, else null. */
  fusion: z.boolean().nullable(),
  /** Kernel autotuning on/off where the framework has the switch, else null. */
  autotune: z.boolean().nullable(),
  notes: z.array(z.string()),
  /** Build information of the runner binary, where it embeds one (compiled runners). */
  build: RunnerBuild.optional(),
});
export type ReadyMessage = z.infer<typeof ReadyMessage>;

export const ErrorBody = z.object({
  kind: z.enum(["bad_request", "internal", "model"]),
  message: z.string(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Line a runner prints instead of `ready` when the model cannot be loaded, before exiting non-zero. */
export const FatalMessage = z.object({ op: z.literal("fatal"), error: ErrorBody });

export const StartupMessage = z.discriminatedUnion("op", [ReadyMessage, FatalMessage]);

export const GenerateRequest = z.object({
  id: z.int(),
  op: z.literal("generate"),
  prompt_token_ids: TokenIds.min(1),
  max_new_tokens: z.int().positive(),
  ignore_eos: z.boolean(),
});
export type GenerateRequest = z.infer<typeof GenerateRequest>;

export const ScoreRequest = z.object({
  id: z.int(),
  op: z.literal("score"),
  prompt_token_ids: TokenIds.min(1),
  continuation_token_ids: TokenIds.min(1),
  top_k: z.int().positive(),
});
export type ScoreRequest = z.infer<typeof ScoreRequest>;

export const ShutdownRequest = z.object({ id: z.int(), op: z.literal("shutdown") });

export const GenerateReply = z.object({
  id: z.int(),
  ok: z.literal(true),
  op: z.literal("generate"),
  token_ids: TokenIds,
  /** Nanoseconds from request parsed to token i's id on the host; non-decreasing. */
  token_times_ns: z.array(z.number().nonnegative()),
  /** Nanoseconds from request parsed to reply about to be written. */
  total_time_ns: z.number().nonnegative(),
  /** Peak resident set size of the runner process so far, bytes. */
  peak_rss_bytes: z.number().nonnegative(),
  /** Peak device memory the framework reports, bytes; null where it reports none. */
  peak_device_bytes: z.number().nonnegative().nullable(),
});
export type GenerateReply = z.infer<typeof GenerateReply>;

/** One [token_id, logit] pair. */
export const TopKEntry = z.tuple([z.int().nonnegative(), z.number()]);

export const ScoreReply = z.object({
  id: z.int(),
  ok: z.literal(true),
  op: z.literal("score"),
  /** Argmax id per continuation position (the logits that predict continuation[i]). */
  argmax_ids: TokenIds,
  /** Per continuation position, top_k [id, logit] pairs, highest logit first. */
  top_k: z.array(z.array(TopKEntry)),
});
export type ScoreReply = z.infer<typeof ScoreReply>;

export const ShutdownReply = z.object({ id: z.int(), ok: z.literal(true), op: z.literal("shutdown") });

export const ErrorReply = z.object({ id: z.int().nullable(), ok: z.literal(false), error: ErrorBody });
export type ErrorReply = z.infer<typeof ErrorReply>;
