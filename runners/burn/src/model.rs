//! Qwen3 written from its definition (as in mlx-lm's `models/qwen3.py`): RMSNorm, attention with
//! per-head q/k RMSNorm and RoPE, grouped-query attention, SwiGLU MLP, tied or untied LM head.
//! Tensor fields are named after the checkpoint's tensors.

use crate::cache::KvCache;
use crate::config::Qwen3Config;
use crate::weights::{Checkpoint, Layout};
use burn::tensor::activation::{silu, softmax};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, DType, Int, Tensor, TensorData, Device};

/// How attention scores are computed; both give the same result, speed differs per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionImpl {
    /// `burn::tensor::module::attention` (a fused/flash kernel where the backend has one).
    Burn,
    /// matmul, softmax, matmul written out, with query heads grouped per KV head.
    Explicit,
}

impl AttentionImpl {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "burn" => Ok(AttentionImpl::Burn),
            "explicit" => Ok(AttentionImpl::Explicit),
            other => Err(format!("unknown attention {other:?} (burn, explicit)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AttentionImpl::Burn => "burn",
            AttentionImpl::Explicit => "explicit",
        }
    }
}

/// Creates device tensors from the checkpoint in the run dtype, counting parameters.
pub struct WeightLoader<'a> {
    pub checkpoint: &'a Checkpoint,
    pub device: &'a Device,
    pub dtype: DType,
    pub parameter_count: usize,
}

impl WeightLoader<'_> {
    fn load<const D: usize>(&mut self, name: &str, disk_shape: [usize; D], layout: Layout) -> Result<Tensor<D>, String> {
        let data = self.checkpoint.tensor(name, &disk_shape, layout, self.dtype)?;
        self.parameter_count += disk_shape.iter().product::<usize>();
        Ok(Tensor::from_data(data, (self.device, self.dtype)))
    }

    /// A bias-free PyTorch Linear weight `[out, in]`, as Burn's `[in, out]`.
    fn linear_weight(&mut self, name: &str, in_features: usize, out_features: usize) -> Result<Tensor<2>, String> {
        self.load(name, [out_features, in_features], Layout::LinearTransposed)
    }

    fn linear(&mut self, name: &str, in_features: usize, out_features: usize) -> Result<Linear, String> {
        Ok(Linear::new(self.linear_weight(name, in_features, out_features)?))
    }

    /// Several Linears that read the same input, concatenated along the output axis
    /// (`[in, out_1 + out_2 + ...]`): one matrix product per step instead of one per projection.
    fn fused_linear(&mut self, names: &[String], in_features: usize, out_features: &[usize]) -> Result<Linear, String> {
        let parts = names
            .iter()
            .zip(out_features)
            .map(|(name, &out)| self.linear_weight(name, in_features, out))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Linear::new(Tensor::cat(parts, 1)))
    }

    fn rms_norm(&mut self, name: &str, width: usize, eps: f64) -> Result<RmsNorm<3>, String> {
        Ok(RmsNorm { weight: self.load(name, [width], Layout::AsStored)?.unsqueeze::<3>(), eps })
    }

    /// Qwen3's per-head `q_norm` and `k_norm` as one norm over the `heads + kv_heads` query and
    /// key heads of a step: each weight repeated once per head, `[heads + kv_heads, head_dim]`.
    fn qk_norm(&mut self, prefix: &str, c: &Qwen3Config) -> Result<RmsNorm<4>, String> {
        let per_head = |loader: &mut Self, name: &str, heads: usize| -> Result<Tensor<2>, String> {
            Ok(loader.load(&format!("{prefix}.{name}.weight"), [c.head_dim], Layout::AsStored)?.unsqueeze::<2>().repeat_dim(0, heads))
        };
        let weight = Tensor::cat(vec![per_head(self, "q_norm", c.num_attention_heads)?, per_head(self, "k_norm", c.num_key_value_heads)?], 0);
        Ok(RmsNorm { weight: weight.unsqueeze::<4>(), eps: c.rms_norm_eps })
    }
}

/// A bias-free linear layer, `x · W` with `W` as `[1, in, out]`: shaped once at load for the
/// `[1, L, in]` activations, where `burn::tensor::module::linear` would reshape the weight (one
/// more fusion op) on every call.
pub struct Linear {
    weight: Tensor<3>,
}

impl Linear {
    fn new(weight: Tensor<2>) -> Self {
        Self { weight: weight.unsqueeze::<3>() }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        x.matmul(self.weight.clone())
    }
}

/// RMSNorm over the last axis of rank-`D` activations, its weight shaped for them at load
/// (`[1, 1, width]`, or `[1, 1, heads, head_dim]` for the per-head query/key norm).
pub struct RmsNorm<const D: usize> {
    weight: Tensor<D>,
    eps: f64,
}

impl<const D: usize> RmsNorm<D> {
    /// `weight * (x * rsqrt(mean(x²) + eps))` over the last axis, the statistics in f32 as in
    /// Hugging Face Qwen3. (Written as `x / sqrt(..)`, Burn 0.21's fusion fails to generate the
    /// f16 kernel: an index out of bounds in burn-cubecl-fusion's codegen.)
    pub fn forward(&self, x: Tensor<D>) -> Tensor<D> {
        let dtype = x.dtype();
        let x32 = x.cast(DType::F32);
        let inv_rms = x32.clone().square().mean_dim(D - 1).add_scalar(self.eps).sqrt().recip();
        (x32 * inv_rms).cast(dtype) * self.weight.clone()
    }
}

/// Precomputed rotary tables, `[max_positions, head_dim]`, non-interleaved ("rotate_half").
pub struct Rope {
    cos: Tensor<2>,
    sin: Tensor<2>,
    /// `rotate_half` as a `[head_dim, head_dim]` matrix of 0 and ±1 (exact in every dtype):
    /// one matrix product instead of two slices, a negation and a concatenation.
    rotate_half: Tensor<2>,
}

/// cos and sin tables on the host, computed in f32 as Hugging Face does:
/// `inv_freq[i] = 1 / theta^(2i / head_dim)`, angle = position * inv_freq, each half repeated.
pub fn rope_tables(head_dim: usize, theta: f64, positions: usize) -> (Vec<f32>, Vec<f32>) {
    let half = head_dim / 2;
    let inv_freq: Vec<f32> = (0..half)
        .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head_dim as f32))
        .collect();
    let mut cos = Vec::with_capacity(positions * head_dim);
    let mut sin = Vec::with_capacity(positions * head_dim);
    for position in 0..positions {
        for repeat in 0..2 {
            let _ = repeat;
            for &f in &inv_freq {
                let angle = position as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
    }
    (cos, sin)
}

impl Rope {
    pub fn new(head_dim: usize, theta: f64, positions: usize, device: &Device, dtype: DType) -> Self {
        let (cos, sin) = rope_tables(head_dim, theta, positions);
        let table = |values: Vec<f32>| {
            Tensor::<2>::from_data(TensorData::new(values, [positions, head_dim]), (device, DType::F32)).cast(dtype)
        };
        let half = head_dim / 2;
        let mut rotate = vec![0f32; head_dim * head_dim];
        for j in 0..half {
            rotate[(j + half) * head_dim + j] = -1.0; // out[j] = -x[j + half]
            rotate[j * head_dim + j + half] = 1.0; // out[j + half] = x[j]
        }
        let rotate_half = Tensor::<2>::from_data(TensorData::new(rotate, [head_dim, head_dim]), (device, DType::F32)).cast(dtype);
        Self { cos: table(cos), sin: table(sin), rotate_half }
    }

    /// The angles of one position given as a device tensor `[1]` (decode steps).
    pub fn at(&self, positions: Tensor<1, Int>) -> RopeAngles {
        self.angles(self.cos.clone().select(0, positions.clone()), self.sin.clone().select(0, positions))
    }

    /// The angles of `len` consecutive positions from `offset` (prefill).
    pub fn range(&self, offset: usize, len: usize) -> RopeAngles {
        self.angles(self.cos.clone().narrow(0, offset, len), self.sin.clone().narrow(0, offset, len))
    }

    fn angles(&self, cos: Tensor<2>, sin: Tensor<2>) -> RopeAngles {
        RopeAngles { cos: cos.unsqueeze::<4>(), sin: sin.unsqueeze::<4>(), rotate_half: self.rotate_half.clone().unsqueeze::<4>() }
    }
}

/// cos and sin at the positions of one forward pass, `[1, 1, L, head_dim]`, with the
/// `rotate_half` matrix, shared by every layer's queries and keys.
pub struct RopeAngles {
    cos: Tensor<4>,
    sin: Tensor<4>,
    rotate_half: Tensor<4>,
}

impl RopeAngles {
    /// Rotates `x` (`[1, heads, L, head_dim]`): `x * cos + rotate_half(x) * sin`.
    pub fn rotate(&self, x: Tensor<4>) -> Tensor<4> {
        let rotated = x.clone().matmul(self.rotate_half.clone());
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}

pub struct Attention {
    /// `q_proj`, `k_proj` and `v_proj` side by side, `[hidden, (heads + 2 kv_heads) * head_dim]`.
    qkv_proj: Linear,
    o_proj: Linear,
    /// `q_norm` and `k_norm` applied together to the query and key heads.
    qk_norm: RmsNorm<4>,
    n_heads: usize,
    n_kv_heads: usize,
    /// Query heads per KV head.
    groups: usize,
    head_dim: usize,
}

impl Attention {
    fn load(loader: &mut WeightLoader, prefix: &str, c: &Qwen3Config) -> Result<Self, String> {
        let (d, hd) = (c.hidden_size, c.head_dim);
        let (q, kv) = (c.num_attention_heads * hd, c.num_key_value_heads * hd);
        let names = ["q_proj", "k_proj", "v_proj"].map(|p| format!("{prefix}.{p}.weight"));
        Ok(Self {
            qkv_proj: loader.fused_linear(&names, d, &[q, kv, kv])?,
            o_proj: loader.linear(&format!("{prefix}.o_proj.weight"), c.num_attention_heads * hd, d)?,
            qk_norm: loader.qk_norm(prefix, c)?,
            n_heads: c.num_attention_heads,
            n_kv_heads: c.num_key_value_heads,
            groups: c.kv_groups(),
            head_dim: hd,
        })
    }

    fn forward(&self, x: Tensor<3>, layer: usize, rope: &RopeAngles, cache: &mut KvCache, step: &Step, mode: AttentionImpl) -> Tensor<3> {
        let [batch, len, _] = x.dims();
        let hd = self.head_dim;
        let (heads, kv_heads) = (self.n_heads, self.n_kv_heads);
        let qkv = self.qkv_proj.forward(x).reshape([batch, len, heads + 2 * kv_heads, hd]);
        // Query and key heads share head_dim: one RMSNorm and one RoPE rotation for both.
        let qk = rope.rotate(heads_first(self.qk_norm.forward(qkv.clone().narrow(2, 0, heads + kv_heads))));
        let queries = qk.clone().narrow(1, 0, heads);
        let keys = qk.narrow(1, heads, kv_heads);
        let values = heads_first(qkv.narrow(2, heads + kv_heads, kv_heads));

        let output = match step {
            Step::Prefill => {
                let (keys, values) = cache.write_prefix(layer, keys, values);
                match mode {
                    AttentionImpl::Explicit => self.attend_explicit(queries, keys, values),
                    AttentionImpl::Burn => self.attend_burn(queries, keys, values),
                }
            }
            Step::Decode { positions, future } => {
                let (keys, values) = cache.write_at(layer, positions.clone(), keys, values);
                self.attend_decode(queries, keys, values, future.clone(), mode)
            }
        };
        self.o_proj.forward(heads_last(output))
    }

    /// One new token against the whole preallocated cache, `future` masking the unwritten
    /// positions; query heads are grouped per KV head (`[1, kv_heads, groups, head_dim]`).
    fn attend_decode(&self, queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, future: Tensor<4, Bool>, mode: AttentionImpl) -> Tensor<4> {
        let [batch, _, _, hd] = queries.dims();
        let queries = queries.reshape([batch, self.n_kv_heads, self.groups, hd]);
        let output = match mode {
            AttentionImpl::Burn => attention(queries, keys, values, Some(future), None, AttentionModuleOptions::default()),
            AttentionImpl::Explicit => {
                let scores = queries.matmul(keys.swap_dims(2, 3)).mul_scalar(1.0 / (hd as f64).sqrt());
                softmax(scores.mask_fill(future, f32::NEG_INFINITY), 3).matmul(values)
            }
        };
        output.reshape([batch, self.n_heads, 1, hd])
    }

    /// Query heads that share a KV head are stacked along the sequence axis
    /// (`[1, kv_heads, groups * L, head_dim]`), so K and V are never repeated.
    fn attend_explicit(&self, queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>) -> Tensor<4> {
        let [batch, _, len, hd] = queries.dims();
        let groups = self.groups;
        let queries = queries.reshape([batch, self.n_kv_heads, groups * len, hd]);
        let scale = 1.0 / (hd as f64).sqrt();
        let mut scores = queries.matmul(keys.swap_dims(2, 3)).mul_scalar(scale);
        if len > 1 {
            let mask = causal_mask(groups, len, &scores.device());
            scores = scores.mask_fill(mask.unsqueeze::<4>(), f32::NEG_INFINITY);
        }
        softmax(scores, 3).matmul(values).reshape([batch, self.n_heads, len, hd])
    }

    fn attend_burn(&self, queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>) -> Tensor<4> {
        let [batch, _, len, hd] = queries.dims();
        let groups = self.groups;
        if len == 1 {
            // One new token needs no mask, so the grouped-query layout works unchanged.
            let queries = queries.reshape([batch, self.n_kv_heads, groups, hd]);
            let output = attention(queries, keys, values, None, None, AttentionModuleOptions::default());
            return output.reshape([batch, self.n_heads, 1, hd]);
        }
        // Burn's causal flag masks col > row: right because a prefill starts at position 0.
        let total = keys.dims()[2];
        let repeat = |t: Tensor<4>| {
            t.unsqueeze_dim::<5>(2)
                .expand([batch, self.n_kv_heads, groups, total, hd])
                .reshape([batch, self.n_heads, total, hd])
        };
        let options = AttentionModuleOptions { is_causal: true, ..Default::default() };
        attention(queries, repeat(keys), repeat(values), None, None, options)
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

/// `true` where query row (stacked `groups` times) may not see key column: column > row.
fn causal_mask(groups: usize, len: usize, device: &Device) -> Tensor<2, Bool> {
    let mask: Vec<bool> = (0..groups * len).flat_map(|row| (0..len).map(move |col| col > row % len)).collect();
    Tensor::from_data(TensorData::new(mask, [groups * len, len]), device)
}

/// How a forward pass addresses the KV cache.
enum Step {
    /// The prompt, from position 0: static slices, shapes follow its length.
    Prefill,
    /// One token: its position and the mask are device data, so every decode step of a cache
    /// runs the same kernels on the same buffers (what a captured graph replays).
    Decode {
        /// The new token's position, `[1]`.
        positions: Tensor<1, Int>,
        /// `[1, kv_heads, groups, capacity]` (the grouped scores' shape, expanded once per step
        /// rather than once per layer), true for cache slots after the new token.
        future: Tensor<4, Bool>,
    },
}

impl Step {
    fn decode(positions: Tensor<1, Int>, cache: &KvCache, config: &Qwen3Config) -> Self {
        let capacity = cache.capacity();
        let future = cache
            .slots()
            .greater(positions.clone().expand([capacity]))
            .reshape([1, 1, 1, capacity])
            .expand([1, config.num_key_value_heads, config.kv_groups(), capacity]);
        Step::Decode { positions, future }
    }
}

pub struct Mlp {
    /// `gate_proj` and `up_proj` side by side, `[hidden, 2 * intermediate]`.
    gate_up_proj: Linear,
    down_proj: Linear,
    intermediate: usize,
}

impl Mlp {
    fn load(loader: &mut WeightLoader, prefix: &str, c: &Qwen3Config) -> Result<Self, String> {
        let (d, i) = (c.hidden_size, c.intermediate_size);
        let names = ["gate_proj", "up_proj"].map(|p| format!("{prefix}.{p}.weight"));
        Ok(Self {
            gate_up_proj: loader.fused_linear(&names, d, &[i, i])?,
            down_proj: loader.linear(&format!("{prefix}.down_proj.weight"), i, d)?,
            intermediate: i,
        })
    }

    /// `down(silu(gate(x)) * up(x))`.
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate_up = self.gate_up_proj.forward(x);
        let gate = silu(gate_up.clone().narrow(2, 0, self.intermediate));
        let up = gate_up.narrow(2, self.intermediate, self.intermediate);
        self.down_proj.forward(gate * up)
    }
}

pub struct TransformerBlock {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: RmsNorm<3>,
    post_attention_layernorm: RmsNorm<3>,
}

impl TransformerBlock {
    fn load(loader: &mut WeightLoader, prefix: &str, c: &Qwen3Config) -> Result<Self, String> {
        Ok(Self {
            self_attn: Attention::load(loader, &format!("{prefix}.self_attn"), c)?,
            mlp: Mlp::load(loader, &format!("{prefix}.mlp"), c)?,
            input_layernorm: loader.rms_norm(&format!("{prefix}.input_layernorm.weight"), c.hidden_size, c.rms_norm_eps)?,
            post_attention_layernorm: loader.rms_norm(
                &format!("{prefix}.post_attention_layernorm.weight"),
                c.hidden_size,
                c.rms_norm_eps,
            )?,
        })
    }

    fn forward(&self, x: Tensor<3>, layer: usize, rope: &RopeAngles, cache: &mut KvCache, step: &Step, mode: AttentionImpl) -> Tensor<3> {
        let h = x.clone() + self.self_attn.forward(self.input_layernorm.forward(x), layer, rope, cache, step, mode);
        h.clone() + self.mlp.forward(self.post_attention_layernorm.forward(h))
    }
}

pub struct Qwen3 {
    pub config: Qwen3Config,
    /// `[vocab_size, hidden_size]`; also the LM head (transposed view) when embeddings are tied.
    embed_tokens: Tensor<2>,
    layers: Vec<TransformerBlock>,
    norm: RmsNorm<3>,
    /// `[hidden_size, vocab_size]`, only when `tie_word_embeddings` is false.
    lm_head: Option<Linear>,
    rope: Rope,
    pub attention: AttentionImpl,
    pub device: Device,
    pub dtype: DType,
    /// Parameters loaded, tied embeddings counted once.
    pub parameter_count: usize,
}

impl Qwen3 {
    pub fn load(config: Qwen3Config, checkpoint: &Checkpoint, device: &Device, dtype: DType, attention: AttentionImpl) -> Result<Self, String> {
        let c = &config;
        let mut loader = WeightLoader { checkpoint, device, dtype, parameter_count: 0 };
        let embed_tokens = loader.load("model.embed_tokens.weight", [c.vocab_size, c.hidden_size], Layout::AsStored)?;
        let layers = (0..c.num_hidden_layers)
            .map(|i| TransformerBlock::load(&mut loader, &format!("model.layers.{i}"), c))
            .collect::<Result<Vec<_>, _>>()?;
        let norm = loader.rms_norm("model.norm.weight", c.hidden_size, c.rms_norm_eps)?;
        let lm_head = if c.tie_word_embeddings {
            None
        } else {
            Some(loader.linear("lm_head.weight", c.hidden_size, c.vocab_size)?)
        };
        let rope = Rope::new(c.head_dim, c.rope_theta, c.max_position_embeddings, device, dtype);
        let parameter_count = loader.parameter_count;
        Ok(Self { config, embed_tokens, layers, norm, lm_head, rope, attention, device: device.clone(), dtype, parameter_count })
    }

    pub fn new_cache(&self, capacity: usize) -> KvCache {
        let c = &self.config;
        KvCache::new(c.num_hidden_layers, c.num_key_value_heads, c.head_dim, capacity, &self.device, self.dtype)
    }

    /// Runs the prompt `token_ids` (`[L]`) through the model from position 0, writing the
    /// cache's first L slots, and returns the final normalised hidden states `[1, L, hidden_size]`.
    pub fn prefill(&self, token_ids: Tensor<1, Int>, cache: &mut KvCache) -> Tensor<3> {
        let len = token_ids.dims()[0];
        self.forward(token_ids, self.rope.range(0, len), cache, &Step::Prefill)
    }

    /// One decode step: `token` (`[1]`) at `position` (`[1]`, device data), attending to the
    /// cache's slots up to it; returns the normalised hidden state `[1, 1, hidden_size]`.
    pub fn decode(&self, token: Tensor<1, Int>, position: Tensor<1, Int>, cache: &mut KvCache) -> Tensor<3> {
        let angles = self.rope.at(position.clone());
        let step = Step::decode(position, cache, &self.config);
        self.forward(token, angles, cache, &step)
    }

    fn forward(&self, token_ids: Tensor<1, Int>, angles: RopeAngles, cache: &mut KvCache, step: &Step) -> Tensor<3> {
        let mut h = self.embed_tokens.clone().select(0, token_ids).unsqueeze::<3>();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h, i, &angles, cache, step, self.attention);
        }
        self.norm.forward(h)
    }

    /// Vocabulary logits for hidden states `[1, L, hidden_size]` -> `[1, L, vocab_size]`.
    pub fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        match &self.lm_head {
            Some(lm_head) => lm_head.forward(hidden),
            None => {
                // embed_tokens · hiddenᵀ reads the table in its stored row-major layout; a
                // transposed view of the 151936-row table would be copied on every call.
                let [batch, len, width] = hidden.dims();
                let hidden = hidden.reshape([batch * len, width]).transpose();
                let logits = self.embed_tokens.clone().matmul(hidden).transpose();
                logits.reshape([batch, len, self.config.vocab_size])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_table_matches_hand_computed_angles() {
        // head_dim 4, theta 10000: inv_freq = [1, 10000^-0.5 = 0.01]; halves repeat.
        let (cos, sin) = rope_tables(4, 10_000.0, 3);
        let row = |t: &[f32], p: usize| t[p * 4..p * 4 + 4].to_vec();
        assert_eq!(row(&cos, 0), vec![1.0, 1.0, 1.0, 1.0]);
        let expected_cos = [2.0f32.cos(), 0.02f32.cos(), 2.0f32.cos(), 0.02f32.cos()];
        let expected_sin = [2.0f32.sin(), 0.02f32.sin(), 2.0f32.sin(), 0.02f32.sin()];
        for (got, want) in row(&cos, 2).iter().zip(expected_cos).chain(row(&sin, 2).iter().zip(expected_sin)) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[cfg(feature = "cpu")]
    #[test]
    fn rope_rotates_halves_like_rotate_half() {
        let device = Device::flex();
        let rope = Rope::new(4, 10_000.0, 3, &device, DType::F32);
        let x = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 1, 4]), (&device, DType::F32));
        let y: Vec<f32> = rope.range(1, 1).rotate(x).into_data().iter::<f32>().collect();
        // position 1: angles [1, 0.01]; out = [x1 c - x3 s, x2 c' - x4 s', x3 c + x1 s, x4 c' + x2 s']
        let (c0, s0, c1, s1) = (1f32.cos(), 1f32.sin(), 0.01f32.cos(), 0.01f32.sin());
        let want = [1.0 * c0 - 3.0 * s0, 2.0 * c1 - 4.0 * s1, 3.0 * c0 + 1.0 * s0, 4.0 * c1 + 2.0 * s1];
        for (got, want) in y.iter().zip(want) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
    }

    #[cfg(feature = "cpu")]
    #[test]
    fn causal_mask_stacks_groups() {
        // 2 groups x 3 positions: row r sees columns <= r % 3.
        let mask = causal_mask(2, 3, &Device::flex());
        let rows: Vec<bool> = mask.into_data().iter::<bool>().collect();
        let want = [false, true, true, false, false, true, false, false, false];
        assert_eq!(rows, [want, want].concat());
    }
}
