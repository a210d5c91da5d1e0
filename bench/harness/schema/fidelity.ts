import { z } from "zod";

/**
 * One line of the JSON-lines file scripts/gpu-fidelity.py writes (`fidelity.jsonl`): decode speed
 * of a model measured with each framework's own tool, outside the harness. Lines carry more fields
 * than these (each tool's raw figures); they are kept and ignored.
 */

/** One timed generation by a framework's own tool. */
export const FidelityRun = z.looseObject({
  record: z.literal("run"),
  /** The tool: "mlx_lm.benchmark", "transformers generate", "hand-written torch", "burn --self-bench". */
  tool: z.string(),
  /** The harness framework it is compared with ("torch-compile", "mlx-lm", "burn-cuda"). */
  runner: z.string(),
  /** True when the tool runs the runner's own code path (target: within 3 %); false for another path (the gap is explained). */
  same_code_path: z.boolean(),
  prompt_tokens: z.int().positive(),
  new_tokens: z.int().min(2),
  /** 0-based index among the tool's timed generations of this prompt. */
  repeat: z.int().nonnegative(),
  /** (new_tokens − 1) / (last token's time − first token's time), tokens per second. */
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

/** Greedy-token agreement of a tool with a reference (the hand-written model against transformers). */
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

/** What a tool was (version, device, notes), or the whole check's setting when tool is "gpu-fidelity.py". */
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
