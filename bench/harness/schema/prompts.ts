import { z } from "zod";

/**
 * A time budget per runner (criterion's measurement time): each runner's cases are trimmed (fewer
 * timed runs, then fewer new tokens) or skipped so that its requests fit; results record the actual
 * counts and the report states every trim (bench/harness/budget.ts).
 */
export const Budget = z.object({
  /** Request time each runner may spend (warm-up, timed and agreement requests; not its start-up), seconds. */
  secs: z.number().positive(),
  /** Fewest new tokens of a trimmed timed request; every warm-up request generates this many. */
  min_new_tokens: z.int().min(2),
  /** Fewest timed requests a trimmed case keeps. */
  min_timed_iterations: z.int().positive(),
});
export type Budget = z.infer<typeof Budget>;

/** Iteration counts and lengths of one benchmark profile. */
export const Profile = z.object({
  /** New tokens per generate request (EOS ignored, so exactly this many). */
  max_new_tokens: z.int().min(2),
  /** Untimed generate requests per (framework, prompt) before the timed ones (autotune, caches). */
  warmup_iterations: z.int().nonnegative(),
  /** Timed generate requests per (framework, prompt). */
  timed_iterations: z.int().positive(),
  /** Pause between timed requests, seconds (lets clocks and temperatures settle). */
  cooldown_secs: z.number().nonnegative(),
  /** Absent: every case runs the profile's counts, however long that takes. */
  budget: Budget.optional(),
});
export type Profile = z.infer<typeof Profile>;

/** Tolerances of the greedy-token agreement checks against the reference. */
export const AgreementConfig = z.object({
  /** f32 runs must reproduce the reference tokens exactly. */
  f32_exact: z.boolean(),
  /** f16/bf16: minimum share of positions where the runner's teacher-forced top-1 equals the reference's. */
  min_top1_agreement: z.number().min(0).max(1),
  /** f16/bf16: free-running greedy tokens must equal the reference's for at least this many positions. */
  min_first_divergence: z.int().nonnegative(),
  /** k of the teacher-forced `score` request. */
  top_k: z.int().positive(),
});
export type AgreementConfig = z.infer<typeof AgreementConfig>;

export const Prompt = z.object({
  /** Stable id used in results and reports: lowercase letters, digits, '-', '_'. */
  id: z.string().regex(/^[a-z0-9_-]+$/),
  system: z.string(),
  user: z.string().min(1),
});
export type Prompt = z.infer<typeof Prompt>;

/** `bench/prompts.json`. */
export const PromptsFile = z.object({
  config: z.object({
    temperature: z.literal(0),
    /** Per-request timeout, seconds: a runner that does not answer in time is killed. */
    request_timeout_secs: z.number().positive(),
    /** Runner start-up (model load) timeout, seconds. */
    startup_timeout_secs: z.number().positive(),
    profiles: z.object({ full: Profile, quick: Profile }),
    agreement: AgreementConfig,
  }),
  prompts: z.array(Prompt).min(1).refine((ps) => new Set(ps.map((p) => p.id)).size === ps.length, {
    message: "prompt ids must be unique",
  }),
});
export type PromptsFile = z.infer<typeof PromptsFile>;

/**
 * A prompts file in this project's format given with BENCH_PROMPTS: like bench/prompts.json, but
 * `config` may be left out (bench/prompts.json's is used then).
 */
export const CustomPromptsFile = z.object({
  config: PromptsFile.shape.config.optional(),
  prompts: PromptsFile.shape.prompts,
});
export type CustomPromptsFile = z.infer<typeof CustomPromptsFile>;

/** One prompt of the original benchmark's prompts file. */
export const OriginalPrompt = z.object({
  /** The prompt id, as the original's own tools write it into `prompt_id` ("short"); where absent, the id is made from the label. */
  id: Prompt.shape.id.optional(),
  /** The display name; the prompt id where there is no `id`, lower-cased with every other character than a-z, 0-9, '_' and '-' turned into '-' ("Long prompt" → "long-prompt"). */
  label: z.string().regex(/[A-Za-z0-9_-]/, "needs at least one letter, digit, '_' or '-' to make a prompt id from"),
  system_prompt: z.string().default(""),
  user_message: z.string().min(1),
});
export type OriginalPrompt = z.infer<typeof OriginalPrompt>;

/**
 * The `config` keys of the original benchmark that have a counterpart here: they set the `full`
 * profile (the original's one protocol). Other keys are ignored (loadPromptsFile names them).
 */
export const OriginalConfig = z.object({
  max_new_tokens: Profile.shape.max_new_tokens.optional(),
  warmup_iterations: Profile.shape.warmup_iterations.optional(),
  timed_iterations: Profile.shape.timed_iterations.optional(),
  /** Seconds. */
  cooldown_secs: Profile.shape.cooldown_secs.optional(),
  /** Greedy decoding only, as here. */
  temperature: z.literal(0, { error: "this benchmark decodes greedily: only 0 is supported" }).optional(),
});
export type OriginalConfig = z.infer<typeof OriginalConfig>;

/** The original benchmark's prompts file: `{config, prompts: [{label, system_prompt, user_message}]}`. */
export const OriginalPromptsFile = z.object({
  config: OriginalConfig.default({}),
  prompts: z.array(OriginalPrompt).min(1),
});
export type OriginalPromptsFile = z.infer<typeof OriginalPromptsFile>;
