//! Qwen3 written from its definition, laid out as mlx-lm's `models/qwen3.py`: `Attention`,
//! `Mlp`, `TransformerBlock`, `Qwen3Model`, `Model`. Fields are named after the checkpoint's
//! tensors; the two fused projections (`qkv_proj`, `gate_up_proj`) are their parts side by side.
//! The layers are in src/nn, the attention kernels in src/sdpa, the cache and its masks in
//! src/cache.rs, loading in src/weights.rs.

use crate::cache::{AttentionMask, KvCache, LayerCache, Offset};
use crate::checkpoint::{Checkpoint, Layout};
use crate::config::Qwen3Config;
use crate::kernels;
use crate::nn::{Linear, Normed, RmsNorm, Rope, RopeAngles};
use crate::sdpa::AttentionKernel;
use crate::weights::WeightLoader;
use burn::tensor::{DType, Device, Int, Tensor};

/// What every layer of one forward pass shares. mlx-lm derives these in each layer from the
/// cache's offset; here they are made once per pass, which saves operations per decode step.
pub enum Positions {
    /// For Burn's operations: where the pass writes in the cache, the RoPE angles at its
    /// positions and its attention mask.
    Ops { offset: Offset, rope: RopeAngles, mask: AttentionMask },
    /// A decode step on this runner's attention kernel (`--kernels attention`): the position and
    /// the whole RoPE tables; the kernel reads the angles and the visible slots from them.
    Kernel { position: Tensor<1, Int>, rope: (Tensor<2>, Tensor<2>) },
}

pub struct Attention {
    /// `q_proj`, `k_proj` and `v_proj` side by side, `[hidden, (heads + 2 kv_heads) * head_dim]`.
    qkv_proj: Linear,
    o_proj: Linear,
    /// `q_norm` and `k_norm` applied together to the query and key heads.
    qk_norm: RmsNorm<4>,
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
    kernel: AttentionKernel,
}

impl Attention {
    fn load(loader: &mut WeightLoader, prefix: &str, c: &Qwen3Config, kernel: AttentionKernel) -> Result<Self, String> {
        let (d, hd) = (c.hidden_size, c.head_dim);
        let (q, kv) = (c.num_attention_heads * hd, c.num_key_value_heads * hd);
        let names = ["q_proj", "k_proj", "v_proj"].map(|p| format!("{prefix}.{p}.weight"));
        Ok(Self {
            qkv_proj: loader.fused_linear(&names, d, &[q, kv, kv])?,
            o_proj: loader.linear(&format!("{prefix}.o_proj.weight"), q, d)?,
            qk_norm: loader.qk_norm(prefix, c)?,
            n_heads: c.num_attention_heads,
            n_kv_heads: c.num_key_value_heads,
            head_dim: hd,
            kernel,
        })
    }

    /// Project, q/k RMSNorm per head, RoPE at the pass's positions, write and read the cache,
    /// attend, project back, and add to `residual` (the layer's input).
    pub fn forward_add(&self, x: Normed, residual: Tensor<3>, at: &Positions, cache: &mut LayerCache) -> Tensor<3> {
        let (offset, rope, mask) = match at {
            Positions::Ops { offset, rope, mask } => (offset, rope, mask),
            Positions::Kernel { position, rope } => {
                // Everything between the two projections in one kernel (src/kernels/decode_attention.rs).
                let qkv = self.qkv_proj.forward_normed(x);
                let (norm, eps) = self.qk_norm.kernel_args();
                let output = cache.write_with(|keys, values| kernels::decode_attention(qkv, norm, rope, position.clone(), keys, values, eps));
                return self.o_proj.forward_add(output, residual);
            }
        };
        let [batch, len, _] = x.x.dims();
        let (heads, kv_heads) = (self.n_heads, self.n_kv_heads);
        let qkv = self.qkv_proj.forward_normed(x).reshape([batch, len, heads + 2 * kv_heads, self.head_dim]);
        // Query and key heads share head_dim: one RMSNorm and one RoPE rotation for both.
        let qk = rope.rotate(heads_first(self.qk_norm.forward(qkv.clone().narrow(2, 0, heads + kv_heads))));
        let queries = qk.clone().narrow(1, 0, heads);
        let keys = qk.narrow(1, heads, kv_heads);
        let values = heads_first(qkv.narrow(2, heads + kv_heads, kv_heads));

        let (keys, values) = cache.update_and_fetch(keys, values, offset);
        let output = self.kernel.attend(queries, keys, values, mask);
        self.o_proj.forward_add(heads_last(output), residual)
    }
}

/// `[batch, L, heads, head_dim]` -> `[batch, heads, L, head_dim]`; a plain reshape when L is 1.
fn heads_first(x: Tensor<4>) -> Tensor<4> {
    let [batch, len, heads, hd] = x.dims();
    if len == 1 { x.reshape([batch, heads, 1, hd]) } else { x.swap_dims(1, 2) }
}

/// `[batch, heads, L, head_dim]` -> `[batch, L, heads * head_dim]`; a plain reshape when L is 1.
fn heads_last(x: Tensor<4>) -> Tensor<3> {
    let [batch, heads, len, hd] = x.dims();
    if len == 1 { x.reshape([batch, 1, heads * hd]) } else { x.swap_dims(1, 2).reshape([batch, len, heads * hd]) }
}

pub struct Mlp {
    /// `gate_proj` and `up_proj` side by side, `[hidden, 2 * intermediate]`.
    gate_up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    fn load(loader: &mut WeightLoader, prefix: &str, c: &Qwen3Config) -> Result<Self, String> {
        let (d, i) = (c.hidden_size, c.intermediate_size);
        let names = ["gate_proj", "up_proj"].map(|p| format!("{prefix}.{p}.weight"));
        Ok(Self {
            gate_up_proj: Linear::gated(loader.fused_weight(&names, d, &[i, i])?),
            down_proj: loader.linear(&format!("{prefix}.down_proj.weight"), i, d)?,
        })
    }

    /// `residual + down(silu(gate(x)) * up(x))`.
    pub fn forward_add(&self, x: Normed, residual: Tensor<3>) -> Tensor<3> {
        self.down_proj.forward_add(self.gate_up_proj.forward_glu(x), residual)
    }
}

pub struct TransformerBlock {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: RmsNorm<3>,
    post_attention_layernorm: RmsNorm<3>,
}

impl TransformerBlock {
    fn load(loader: &mut WeightLoader, prefix: &str, c: &Qwen3Config, kernel: AttentionKernel) -> Result<Self, String> {
        let norm = |loader: &mut WeightLoader, name: &str| loader.rms_norm(&format!("{prefix}.{name}.weight"), c.hidden_size, c.rms_norm_eps);
        Ok(Self {
            self_attn: Attention::load(loader, &format!("{prefix}.self_attn"), c, kernel)?,
            mlp: Mlp::load(loader, &format!("{prefix}.mlp"), c)?,
            input_layernorm: norm(loader, "input_layernorm")?,
            post_attention_layernorm: norm(loader, "post_attention_layernorm")?,
        })
    }

    pub fn forward(&self, x: Tensor<3>, at: &Positions, cache: &mut LayerCache) -> Tensor<3> {
        let h = self.self_attn.forward_add(Normed { x: x.clone(), norm: &self.input_layernorm }, x, at, cache);
        self.mlp.forward_add(Normed { x: h.clone(), norm: &self.post_attention_layernorm }, h)
    }
}

/// Embedding, the decoder layers and the final norm.
pub struct Qwen3Model {
    /// `[vocab_size, hidden_size]`; also the LM head when embeddings are tied.
    embed_tokens: Tensor<2>,
    layers: Vec<TransformerBlock>,
    norm: RmsNorm<3>,
    rope: Rope,
}

impl Qwen3Model {
    fn load(loader: &mut WeightLoader, c: &Qwen3Config, kernel: AttentionKernel) -> Result<Self, String> {
        Ok(Self {
            embed_tokens: loader.tensor("model.embed_tokens.weight", [c.vocab_size, c.hidden_size], Layout::AsStored)?,
            layers: (0..c.num_hidden_layers)
                .map(|i| TransformerBlock::load(loader, &format!("model.layers.{i}"), c, kernel))
                .collect::<Result<Vec<_>, _>>()?,
            norm: loader.rms_norm("model.norm.weight", c.hidden_size, c.rms_norm_eps)?,
            rope: Rope::new(c.head_dim, c.rope_theta, c.max_position_embeddings, loader.device, loader.dtype),
        })
    }

    /// `token_ids` (`[L]`) at `offset` -> hidden states `[1, L, hidden_size]`, the final norm
    /// pending (the LM head's kernel may take it in).
    pub fn forward(&self, token_ids: Tensor<1, Int>, offset: Offset, cache: &mut KvCache) -> Normed<'_> {
        let len = token_ids.dims()[0];
        let at = match offset {
            Offset::At(position) if kernels::attention_selected() && cache.fits_attention_kernel() => {
                Positions::Kernel { position, rope: self.rope.tables() }
            }
            offset => {
                let rope = match &offset {
                    Offset::Prompt => self.rope.range(0, len),
                    Offset::At(position) => self.rope.at(position.clone()),
                };
                Positions::Ops { mask: cache.make_mask(len, &offset), rope, offset }
            }
        };
        let mut h = self.embed_tokens.clone().select(0, token_ids).unsqueeze::<3>();
        for (layer, layer_cache) in self.layers.iter().zip(cache.layers()) {
            h = layer.forward(h, &at, layer_cache);
        }
        Normed { x: h, norm: &self.norm }
    }
}

/// The causal language model: [`Qwen3Model`] and its LM head.
pub struct Model {
    pub config: Qwen3Config,
    model: Qwen3Model,
    /// `[hidden_size, vocab_size]`, only when `tie_word_embeddings` is false.
    lm_head: Option<Linear>,
    pub device: Device,
    pub dtype: DType,
    /// Parameters loaded, tied embeddings counted once.
    pub parameter_count: usize,
}

impl Model {
    pub fn load(config: Qwen3Config, checkpoint: &Checkpoint, device: &Device, dtype: DType, attention: AttentionKernel) -> Result<Self, String> {
        let c = &config;
        let mut loader = WeightLoader { checkpoint, device, dtype, parameter_count: 0 };
        let model = Qwen3Model::load(&mut loader, c, attention)?;
        let lm_head = match c.tie_word_embeddings {
            true => None,
            false => Some(loader.linear("lm_head.weight", c.hidden_size, c.vocab_size)?),
        };
        let parameter_count = loader.parameter_count;
        Ok(Self { config, model, lm_head, device: device.clone(), dtype, parameter_count })
    }

    pub fn new_cache(&self, capacity: usize) -> KvCache {
        KvCache::new(&self.config, capacity, &self.device, self.dtype)
    }

    /// Runs the prompt `token_ids` (`[L]`) through the model from position 0, writing the
    /// cache's first L slots, and returns the final normalised hidden states `[1, L, hidden_size]`.
    pub fn prefill(&self, token_ids: Tensor<1, Int>, cache: &mut KvCache) -> Tensor<3> {
        self.model.forward(token_ids, Offset::Prompt, cache).apply()
    }

    /// One decode step: `token` (`[1]`) at `position` (`[1]`, device data), attending to the
    /// cache's slots up to it; returns the vocabulary logits `[1, 1, vocab_size]`.
    pub fn decode_logits(&self, token: Tensor<1, Int>, position: Tensor<1, Int>, cache: &mut KvCache) -> Tensor<3> {
        let hidden = self.model.forward(token, Offset::At(position), cache);
        match &self.lm_head {
            Some(lm_head) => lm_head.forward_normed(hidden),
            // The tied table is already `[vocab, hidden]` rows (see `logits`).
            None if kernels::prenorm_selected() => {
                kernels::gemv_in(hidden.x, &self.model.embed_tokens, Some(hidden.norm.kernel_args()), false)
            }
            None => self.logits(hidden.apply()),
        }
    }

    /// Vocabulary logits for hidden states `[1, L, hidden_size]` -> `[1, L, vocab_size]`.
    pub fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        match &self.lm_head {
            Some(lm_head) => lm_head.forward(hidden),
            // The table is already `[vocab, hidden]` rows: the custom kernel reads it as stored.
            None if hidden.dims()[1] == 1 && kernels::gemv_selected() => {
                kernels::gemv(hidden, &self.model.embed_tokens)
            }
            None => {
                // embed_tokens · hiddenᵀ reads the table in its stored row-major layout; a
                // transposed view of the 151936-row table would be copied on every call.
                let [batch, len, width] = hidden.dims();
                let hidden = hidden.reshape([batch * len, width]).transpose();
                let logits = self.model.embed_tokens.clone().matmul(hidden).transpose();
                logits.reshape([batch, len, self.config.vocab_size])
            }
        }
    }
}
