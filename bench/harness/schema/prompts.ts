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
