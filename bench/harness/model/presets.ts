import type { Qwen3Config } from "../schema/model-config.ts";

/** Qwen3-0.6B's published config.json, field for field. */
export const QWEN3_0_6B: Qwen3Config = {
  architectures: ["Qwen3ForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: "silu",
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: "qwen3",
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  transformers_version: "4.51.0",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

/**
 * A tiny Qwen3 for tests: the real vocabulary (so real prompts work), grouped-query attention
 * (4 query heads share 2 KV heads) and head_dim 32 ≠ hidden_size / num_attention_heads = 16, so an
 * implementation that derives head_dim or ignores GQA fails the agreement tests. Embeddings are
 * untied: with tied random embeddings a tiny model mostly echoes its input token (the embedding is
 * most similar to itself), which would make greedy agreement a weak test.
 */
export const QWEN3_TINY: Qwen3Config = {
  ...QWEN3_0_6B,
  head_dim: 32,
  hidden_size: 64,
  intermediate_size: 128,
  max_position_embeddings: 4096,
  max_window_layers: 2,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  rope_theta: 10000,
  tie_word_embeddings: false,
  torch_dtype: "float32",
};

/** The tiny model with tied embeddings, as Qwen3-0.6B has them: tests the tied lm_head path. */
export const QWEN3_TINY_TIED: Qwen3Config = { ...QWEN3_TINY, tie_word_embeddings: true };

export const PRESETS = { "0.6b": QWEN3_0_6B, tiny: QWEN3_TINY, "tiny-tied": QWEN3_TINY_TIED } as const;
export type PresetName = keyof typeof PRESETS;
