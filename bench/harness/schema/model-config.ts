import { z } from "zod";

/**
 * The fields of a Hugging Face Qwen3 `config.json` that the suite reads. Unknown fields pass through
 * untouched, so a real checkpoint's config validates as it is.
 */
export const Qwen3Config = z.looseObject({
  architectures: z.array(z.string()).refine((a) => a.includes("Qwen3ForCausalLM"), {
    message: 'must include "Qwen3ForCausalLM" (only Qwen3 dense models are supported)',
  }),
  model_type: z.literal("qwen3"),
  vocab_size: z.int().positive(),
  hidden_size: z.int().positive(),
  intermediate_size: z.int().positive(),
  num_hidden_layers: z.int().positive(),
  num_attention_heads: z.int().positive(),
  num_key_value_heads: z.int().positive(),
  /** Per-head width. Qwen3 sets it explicitly; it need not equal hidden_size / num_attention_heads. */
  head_dim: z.int().positive(),
  rope_theta: z.number().positive(),
  rms_norm_eps: z.number().positive(),
  tie_word_embeddings: z.boolean(),
  max_position_embeddings: z.int().positive(),
  hidden_act: z.literal("silu"),
  torch_dtype: z.enum(["bfloat16", "float16", "float32"]).optional(),
  bos_token_id: z.int().nonnegative().optional(),
  eos_token_id: z.union([z.int().nonnegative(), z.array(z.int().nonnegative())]).optional(),
}).refine((c) => c.num_attention_heads % c.num_key_value_heads === 0, {
  message: "num_attention_heads must be a multiple of num_key_value_heads",
  path: ["num_key_value_heads"],
});
export type Qwen3Config = z.infer<typeof Qwen3Config>;

/** Storage dtypes the suite writes and every runner accepts. */
export const Dtype = z.enum(["f16", "bf16", "f32"]);
export type Dtype = z.infer<typeof Dtype>;

/** `manifest.json` written by `qwen3-bench synth` next to a synthetic model. */
export const SynthManifest = z.object({
  synthetic: z.literal(true),
  generator: z.string(),
  preset: z.string(),
  seed: z.int().nonnegative(),
  dtype: Dtype,
  /** Normal(0, std) for every matrix; norms are ones. */
  std: z.number().positive(),
  parameter_count: z.int().positive(),
  /** sha256 of model.safetensors, hex; of model.safetensors.index.json for a sharded model (synth --shards). */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** sha256 of each shard by file name, for a sharded model; absent for one file. */
  shard_sha256: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)).optional(),
  tokenizer_source: z.string(),
});
export type SynthManifest = z.infer<typeof SynthManifest>;
