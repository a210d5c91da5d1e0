//! Qwen3 written from its definition, laid out as mlx-lm's `models/qwen3.py`: `Attention`,
//! `Mlp`, `TransformerBlock`, `Qwen3Model`, `Model`. Fields are named after the checkpoint's
//! tensors; the two fused projections (`qkv_proj`, `gate_up_proj`) are their parts side by side.
//! The layers are in src/nn, the attention kernels in src/sdpa, the cache and its masks in
//! src/cache.rs, loading in src/weights.rs.

use crate::cache::{AttentionMask, KvCache, LayerCache, Offset};
use crate::checkpoint::{Checkpoint, Layout};
use crate::config::Qwen3Config;
use crate::kernels::{self, AttentionPlan, AttentionStep, Kernels, SPLIT_FROM};
use crate::nn::{Linear, Output, RmsNorm, Role, Rope, RopeAngles};
use crate::sdpa::AttentionKernel;
use crate::quant::WeightQuant;
use crate::weights::WeightLoader;
use burn::tensor::{DType, Device, Int, Tensor};

/// The longest prompt prefilled in one forward pass, in tokens; a longer one runs as consecutive
/// chunks of this many (the last one shorter), each attending to the whole cache under a mask
/// ([`Offset::Chunk`]), as mlx-lm's `generate` does with `prefill_step_size`. So a prefill's
/// attention scores are at most `chunk × capacity` (not `prompt²`: 8.6 GB a layer in f16 at 16k
/// tokens), and every chunk but the last has one shape, which the backend compiles and autotunes
/// once. Prompts up to this length (the benchmark's prompts, the warm-up) keep one pass. 2,048 is
/// mlx-lm's `prefill_step_size`. The runner's default off CUDA's flash attention only
/// (`cli::default_prefill_chunk`); unit tests pick their own chunk.
pub const PREFILL_CHUNK: usize = 2048;
/// A prefill chunk no prompt reaches: every prompt in one pass (`cli::default_prefill_chunk`).
pub const ONE_PASS: usize = usize::MAX;

/// What every layer of one forward pass shares. mlx-lm derives these in each layer from the
/// cache's offset; here they are made once per pass, which saves operations per decode step.
pub enum Positions {
    /// For Burn's operations: where the pass writes in the cache, the RoPE angles at its
    /// positions and its attention mask.
    Ops { offset: Offset, rope: RopeAngles, mask: AttentionMask },
    /// A decode step of a decoder whose plan runs the attention kernel: the kernel takes each
    /// layer from the q/k/v product to the heads' outputs.
    Kernel(AttentionStep),
}

pub struct Attention {
    /// `q_proj`, `k_proj` and `v_proj` side by side, `[hidden, (heads + 2 kv_heads) * head_dim]`,
    /// with the block's `input_layernorm` as its input norm.
    qkv_proj: Linear,
    /// Adds onto the residual stream.
    o_proj: Linear,
    /// `q_norm` and `k_norm` applied together to the query and key heads.
    qk_norm: RmsNorm<4>,
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
    sdpa: AttentionKernel,
}

impl Attention {
    fn load(loader: &mut WeightLoader, prefix: &str, c: &Qwen3Config, input_norm: RmsNorm<3>, sdpa: AttentionKernel) -> Result<Self, String> {
        let (d, hd) = (c.hidden_size, c.head_dim);
        let (q, kv) = (c.num_attention_heads * hd, c.num_key_value_heads * hd);
        let names = ["q_proj", "k_proj", "v_proj"].map(|p| format!("{prefix}.{p}.weight"));
        Ok(Self {
            qkv_proj: loader.fused_linear(&names, d, &[q, kv, kv], Role { input_norm: Some(input_norm), output: Output::Product })?,
            o_proj: loader.linear(&format!("{prefix}.o_proj.weight"), q, d, Role { input_norm: None, output: Output::AddResidual })?,
            qk_norm: loader.qk_norm(prefix, c)?,
            n_heads: c.num_attention_heads,
            n_kv_heads: c.num_key_value_heads,
            head_dim: hd,
            sdpa,
        })
    }

    /// `x + o_proj(attention(qkv_proj(input_layernorm(x))))`: project, q/k RMSNorm per head, RoPE
    /// at the pass's positions, write and read the cache, attend, project back onto `x`.
    pub fn forward_add(&self, x: Tensor<3>, at: &Positions, cache: &mut LayerCache) -> Tensor<3> {
        let qkv = self.qkv_proj.forward(x.clone());
        let output = match at {
            Positions::Ops { offset, rope, mask } => self.attend(qkv, offset, rope, mask, cache),
            // Everything between the two projections in one kernel (src/kernels/decode_attention.rs).
            Positions::Kernel(step) => cache.write_with(|keys, values| kernels::decode_attention(qkv, self.qk_norm.kernel_args(), step, keys, values)),
        };
        self.o_proj.forward_add(output, x)
    }

    /// The q/k/v product `[1, L, (heads + 2 kv_heads) * head_dim]` to the heads' outputs `[1, L,
    /// heads * head_dim]` with Burn's operations.
    fn attend(&self, qkv: Tensor<3>, offset: &Offset, rope: &RopeAngles, mask: &AttentionMask, cache: &mut LayerCache) -> Tensor<3> {
        let [batch, len, _] = qkv.dims();
        let (heads, kv_heads) = (self.n_heads, self.n_kv_heads);
        let qkv = qkv.reshape([batch, len, heads + 2 * kv_heads, self.head_dim]);
        // Query and key heads share head_dim: one RMSNorm and one RoPE rotation for both.
        let qk = rope.rotate(heads_first(self.qk_norm.forward(qkv.clone().narrow(2, 0, heads + kv_heads))));
        let queries = qk.clone().narrow(1, 0, heads);
        let keys = qk.narrow(1, heads, kv_heads);
        let values = heads_first(qkv.narrow(2, heads + kv_heads, kv_heads));

        let (keys, values) = cache.update_and_fetch(keys, values, offset);
        let sdpa = match offset {
            Offset::Chunk { attention, .. } => *attention,
            _ => self.sdpa,
        };
        heads_last(sdpa.attend(queries, keys, values, mask))
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
    /// `gate_proj` and `up_proj` side by side, `[hidden, 2 * intermediate]`, SwiGLU of the two,
    /// with the block's `post_attention_layernorm` as its input norm.
    gate_up_proj: Linear,
    /// Adds onto the residual stream.
    down_proj: Linear,
}

impl Mlp {
    fn load(loader: &mut WeightLoader, prefix: &str, c: &Qwen3Config, input_norm: RmsNorm<3>) -> Result<Self, String> {
        let (d, i) = (c.hidden_size, c.intermediate_size);
        let names = ["gate_proj", "up_proj"].map(|p| format!("{prefix}.{p}.weight"));
        Ok(Self {
            gate_up_proj: loader.fused_linear(&names, d, &[i, i], Role { input_norm: Some(input_norm), output: Output::SwiGlu })?,
            down_proj: loader.linear(&format!("{prefix}.down_proj.weight"), i, d, Role { input_norm: None, output: Output::AddResidual })?,
        })
    }

    /// `x + down(silu(gate(norm(x))) * up(norm(x)))`.
    pub fn forward_add(&self, x: Tensor<3>) -> Tensor<3> {
        self.down_proj.forward_add(self.gate_up_proj.forward(x.clone()), x)
    }
}

/// A decoder layer. Its two RMSNorms (`input_layernorm`, `post_attention_layernorm`) are the input
/// norms of the products that read the residual stream (q/k/v, gate/up), so that a decode step's
/// kernel can compute them inside the product (`--kernels prenorm`).
pub struct TransformerBlock {
    self_attn: Attention,
    mlp: Mlp,
}

impl TransformerBlock {
    fn load(loader: &mut WeightLoader, prefix: &str, c: &Qwen3Config, sdpa: AttentionKernel) -> Result<Self, String> {
        let norm = |loader: &mut WeightLoader, name: &str| loader.rms_norm(&format!("{prefix}.{name}.weight"), c.hidden_size, c.rms_norm_eps);
        let input_layernorm = norm(loader, "input_layernorm")?;
        let post_attention_layernorm = norm(loader, "post_attention_layernorm")?;
        Ok(Self {
            self_attn: Attention::load(loader, &format!("{prefix}.self_attn"), c, input_layernorm, sdpa)?,
            mlp: Mlp::load(loader, &format!("{prefix}.mlp"), c, post_attention_layernorm)?,
        })
    }

    pub fn forward(&self, x: Tensor<3>, at: &Positions, cache: &mut LayerCache) -> Tensor<3> {
        let h = self.self_attn.forward_add(x, at, cache);
        self.mlp.forward_add(h)
    }
}

/// Embedding and the decoder layers; the final norm is the LM head's input norm ([`Model`]).
pub struct Qwen3Model {
    /// `[vocab_size, hidden_size]`; also the LM head when embeddings are tied.
    embed_tokens: Tensor<2>,
    layers: Vec<TransformerBlock>,
    rope: Rope,
}

impl Qwen3Model {
    fn load(loader: &mut WeightLoader, c: &Qwen3Config, sdpa: AttentionKernel) -> Result<Self, String> {
        Ok(Self {
            embed_tokens: loader.tensor("model.embed_tokens.weight", [c.vocab_size, c.hidden_size], Layout::AsStored)?,
            layers: (0..c.num_hidden_layers)
                .map(|i| TransformerBlock::load(loader, &format!("model.layers.{i}"), c, sdpa))
                .collect::<Result<Vec<_>, _>>()?,
            rope: Rope::new(c.head_dim, c.rope_theta, c.max_position_embeddings, loader.device, loader.dtype),
        })
    }

    /// `token_ids` (`[L]`) at `offset` -> hidden states `[1, L, hidden_size]` before the final norm.
    /// A decode step runs the attention kernel where its decoder's `plan` says so.
    pub fn forward(&self, token_ids: Tensor<1, Int>, offset: Offset, plan: Option<AttentionPlan>, cache: &mut KvCache) -> Tensor<3> {
        let len = token_ids.dims()[0];
        let at = match (offset, plan) {
            (Offset::At(position), Some(plan)) => {
                let (cos, sin) = self.rope.tables();
                Positions::Kernel(AttentionStep { position, cos, sin, plan })
            }
            (offset, _) => {
                let rope = match &offset {
                    Offset::Prompt => self.rope.range(0, len),
                    Offset::Chunk { start, .. } => self.rope.range(*start, len),
                    Offset::At(position) => self.rope.at(position.clone()),
                };
                Positions::Ops { mask: cache.make_mask(len, &offset), rope, offset }
            }
        };
        let mut h = self.embed_tokens.clone().select(0, token_ids).unsqueeze::<3>();
        for (layer, layer_cache) in self.layers.iter().zip(cache.layers()) {
            h = layer.forward(h, &at, layer_cache);
        }
        h
    }
}

/// The causal language model: [`Qwen3Model`] and its LM head.
pub struct Model {
    pub config: Qwen3Config,
    model: Qwen3Model,
    /// `lm_head.weight`, or the embedding table where `tie_word_embeddings`, with the final norm
    /// (`model.norm`) as its input norm.
    lm_head: Linear,
    /// The kernels the model was built for; a decoder asks [`Model::attention_plan`] once.
    kernels: Kernels,
    pub device: Device,
    pub dtype: DType,
    /// Parameters loaded, tied embeddings counted once.
    pub parameter_count: usize,
    /// The prefill's chunk, in tokens: [`PREFILL_CHUNK`], or `--prefill-chunk` (tests pick a smaller one).
    prefill_chunk: usize,
    /// How a long prompt's chunks attend: the explicit form as loaded (what unit tests get); the
    /// runner sets `--chunk-attention`, whose default per backend is `cli::default_chunk_attention`.
    chunk_attention: AttentionKernel,
    /// With `split` in the kernels, a cache of more than this many slots splits the attention's
    /// walk: [`SPLIT_FROM`], or `--split-from`.
    split_from: usize,
}

impl Model {
    pub fn load(config: Qwen3Config, checkpoint: &Checkpoint, device: &Device, dtype: DType, sdpa: AttentionKernel, kernels: Kernels, quant: WeightQuant) -> Result<Self, String> {
        let c = &config;
        let mut loader = WeightLoader { checkpoint, device, dtype, kernels, quant, parameter_count: 0 };
        let model = Qwen3Model::load(&mut loader, c, sdpa)?;
        let role = Role { input_norm: Some(loader.rms_norm("model.norm.weight", c.hidden_size, c.rms_norm_eps)?), output: Output::Product };
        let lm_head = match c.tie_word_embeddings {
            // The table is already `[vocab, hidden]` rows.
            true => Linear::from_rows(vec![model.embed_tokens.clone()], role, kernels),
            false => loader.linear("lm_head.weight", c.hidden_size, c.vocab_size, role)?,
        };
        let parameter_count = loader.parameter_count;
        Ok(Self { config, model, lm_head, kernels, device: device.clone(), dtype, parameter_count, prefill_chunk: PREFILL_CHUNK, chunk_attention: AttentionKernel::Explicit, split_from: SPLIT_FROM })
    }

    /// The same model prefilling prompts in chunks of `tokens` (≥ 1) instead of [`PREFILL_CHUNK`]
    /// (`--prefill-chunk`).
    pub fn with_prefill_chunk(self, tokens: usize) -> Self {
        assert!(tokens > 0, "prefill chunk of 0 tokens");
        Self { prefill_chunk: tokens, ..self }
    }

    /// How a long prompt's chunks attend.
    pub fn chunk_attention(&self) -> AttentionKernel {
        self.chunk_attention
    }

    /// The same model attending with `kernel` in a long prompt's chunks (`--chunk-attention`).
    pub fn with_chunk_attention(self, kernel: AttentionKernel) -> Self {
        Self { chunk_attention: kernel, ..self }
    }

    /// The same model splitting the attention's walk over caches of more than `slots` slots where
    /// the kernels include `split` (`--split-from`; 0: every cache).
    pub fn with_split_from(self, slots: usize) -> Self {
        Self { split_from: slots, ..self }
    }

    pub fn new_cache(&self, capacity: usize) -> KvCache {
        KvCache::new(&self.config, capacity, &self.device, self.dtype)
    }

    /// How the decode steps of a cache of `capacity` slots attend: the attention kernel's plan, or
    /// `None` for Burn's operations (`--kernels` without `attention`, or a cache the kernel does
    /// not take). Asked once per decoder.
    pub fn attention_plan(&self, capacity: usize) -> Option<AttentionPlan> {
        let c = &self.config;
        if !self.kernels.attention {
            return None;
        }
        let split_from = self.kernels.split.then_some(self.split_from);
        kernels::attention_plan(split_from, c.kv_groups(), c.num_key_value_heads, c.head_dim, capacity, self.dtype, &self.device)
    }

    /// Runs the prompt `token_ids` (`[L]`) through the model from position 0, writing the
    /// cache's first L slots, and returns the hidden states `[1, L, hidden_size]` ([`Model::logits`]
    /// takes them, whichever rows it is given). A prompt longer than the prefill chunk runs as
    /// consecutive chunks ([`PREFILL_CHUNK`]); the last one holds the first token's hidden state.
    pub fn prefill(&self, token_ids: Tensor<1, Int>, cache: &mut KvCache) -> Tensor<3> {
        let len = token_ids.dims()[0];
        if len <= self.prefill_chunk {
            return self.model.forward(token_ids, Offset::Prompt, None, cache);
        }
        let chunks = (0..len).step_by(self.prefill_chunk).map(|start| {
            let tokens = token_ids.clone().narrow(0, start, self.prefill_chunk.min(len - start));
            self.model.forward(tokens, Offset::Chunk { start, attention: self.chunk_attention }, None, cache)
        });
        Tensor::cat(chunks.collect(), 1)
    }

    /// One decode step: `token` (`[1]`) at `position` (`[1]`, device data), attending to the
    /// cache's slots up to it as the decoder's `plan` says; returns the vocabulary logits `[1, 1,
    /// vocab_size]`.
    pub fn decode_logits(&self, token: Tensor<1, Int>, position: Tensor<1, Int>, plan: Option<AttentionPlan>, cache: &mut KvCache) -> Tensor<3> {
        self.logits(self.model.forward(token, Offset::At(position), plan, cache))
    }

    /// Vocabulary logits for hidden states `[1, L, hidden_size]` (before the final norm, which
    /// the LM head applies) -> `[1, L, vocab_size]`.
    pub fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.lm_head.forward(hidden)
    }
}
