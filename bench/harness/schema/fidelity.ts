import { z } from "zod";

/**
 * One line of `fidelity.jsonl`, which `qwen3-bench fidelity --run` writes (bench/harness/fidelity/;
 * files from the former scripts/gpu-fidelity.py read the same): decode speed of a model measured
 * with each framework's own tool, outside the protocol. Lines carry more fields than these (each
 * tool's raw figures, prompt_id, round); they are kept and ignored.
 */

/**
 * The `tool` of our own runner's runs and errors: `fidelity --run` times the runner itself between the
 * tools (bench/harness/fidelity/ours.ts), and the table takes "ours" from these runs.
 */
export const OURS_TOOL = "qwen3-bench (our runner)";

/** One timed generation by a framework's own tool (or by our runner: OURS_TOOL). */
export const FidelityRun = z.looseObject({
  record: z.literal("run"),
  /** The tool: "mlx_lm.benchmark", "mlx-lm generate_step loop", "transformers generate (static cache)", "torch-fast loop", "burn --self-bench", "llama-bench". */
  tool: z.string(),
  /** The harness label it is compared with ("torch-compile", "mlx-lm", "burn-cuda[kernels=custom]"). */
  runner: z.string(),
  /** True when the tool runs the runner's own code path (target: within 3 %); false for another path (the gap is explained). */
  same_code_path: z.boolean(),
  prompt_tokens: z.int().positive(),
  new_tokens: z.int().min(2),
  /** 0-based index among the tool's timed generations of this prompt (over all rounds). */
  repeat: z.int().nonnegative(),
  /** Decode tokens per second after the first token: (new_tokens − 1) / (t_N − t_1) where the tool times tokens, else the tool's own rate as its adapter states it. */
  decode_tps: z.number().positive(),
  dtype: z.string(),
});
export type FidelityRun = z.infer<typeof FidelityRun>;

/** A tool (or one prompt of it) that failed; prompt_tokens null when the whole tool failed. */
export const FidelityError = z.looseObject({
  record: z.literal("error"),
  tool: z.string(),
  runner: z.string().nullable(),
  prompt_tokens: z.int().positive().nullable(),
  message: z.string(),
});
export type FidelityError = z.infer<typeof FidelityError>;

/** Greedy-token agreement of a tool with the first tool that decoded after the same prompt ids (the harness's rule, agreement.ts). */
export const FidelityAgreement = z.looseObject({
  record: z.literal("agreement"),
  tool: z.string(),
  reference: z.string(),
  device: z.string(),
  dtype: z.string(),
  prompt_tokens: z.int().positive(),
  tokens: z.int().positive(),
  identical: z.boolean(),
  first_divergence: z.int().nonnegative().nullable(),
  /** Teacher-forced top-1 agreement, 0..1; null where not measured. */
  top1_agreement: z.number().min(0).max(1).nullable(),
  passed: z.boolean(),
});
export type FidelityAgreement = z.infer<typeof FidelityAgreement>;

/** What a tool was (version, device, notes), or the whole run's setting when runner is null (tool "qwen3-bench fidelity --run"). */
export const FidelityMeta = z.looseObject({
  record: z.literal("meta"),
  tool: z.string(),
  runner: z.string().nullable(),
  framework_version: z.string().optional(),
  device: z.string().nullable().optional(),
  notes: z.array(z.string()).optional(),
});
export type FidelityMeta = z.infer<typeof FidelityMeta>;

export const FidelityRecord = z.discriminatedUnion("record", [FidelityRun, FidelityError, FidelityAgreement, FidelityMeta]);
export type FidelityRecord = z.infer<typeof FidelityRecord>;
