import type { Qwen3Config } from "../schema/model-config.ts";

/** One tensor of a Qwen3 checkpoint: its checkpoint name, shape and how it is initialised. */
export interface TensorSpec {
  name: string;
  /** PyTorch layout: Linear weights are [out_features, in_features]. */
  shape: number[];
  init: "normal" | "ones";
}

/** Every tensor a Hugging Face Qwen3ForCausalLM checkpoint holds, in checkpoint order. */
export function qwen3Tensors(c: Qwen3Config): TensorSpec[] {
  const d = c.hidden_size;
  const hd = c.head_dim;
  const q = c.num_attention_heads * hd;
  const kv = c.num_key_value_heads * hd;
  const specs: TensorSpec[] = [{ name: "model.embed_tokens.weight", shape: [c.vocab_size, d], init: "normal" }];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    specs.push(
      { name: `${p}.input_layernorm.weight`, shape: [d], init: "ones" },
      { name: `${p}.self_attn.q_proj.weight`, shape: [q, d], init: "normal" },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kv, d], init: "normal" },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, d], init: "normal" },
      { name: `${p}.self_attn.o_proj.weight`, shape: [d, q], init: "normal" },
      { name: `${p}.self_attn.q_norm.weight`, shape: [hd], init: "ones" },
      { name: `${p}.self_attn.k_norm.weight`, shape: [hd], init: "ones" },
      { name: `${p}.post_attention_layernorm.weight`, shape: [d], init: "ones" },
      { name: `${p}.mlp.gate_proj.weight`, shape: [c.intermediate_size, d], init: "normal" },
      { name: `${p}.mlp.up_proj.weight`, shape: [c.intermediate_size, d], init: "normal" },
      { name: `${p}.mlp.down_proj.weight`, shape: [d, c.intermediate_size], init: "normal" },
    );
  }
  specs.push({ name: "model.norm.weight", shape: [d], init: "ones" });
  if (!c.tie_word_embeddings) specs.push({ name: "lm_head.weight", shape: [c.vocab_size, d], init: "normal" });
  return specs;
}

export const elementCount = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

export const parameterCount = (c: Qwen3Config): number =>
  qwen3Tensors(c).reduce((sum, t) => sum + elementCount(t.shape), 0);
