//! Qwen3 on Burn 0.16's tensor API, written for what burn-mlx 0.1.2 implements: f32 only,
//! matmul/elementwise/reductions/slice/slice_assign/cat/select. A small adaptation of
//! runners/burn/src/model.rs (Burn 0.21) after mlx-lm's `models/qwen3.py`.

use crate::config::Qwen3Config;
use crate::weights::Checkpoint;
use burn::tensor::backend::Backend;
use burn::tensor::{activation::softmax, Int, Tensor, TensorData};

struct Attention<B: Backend> {
    /// `[1, in, out]`, transposed from the checkpoint's `[out, in]` while loading.
    q_proj: Tensor<B, 3>,
    k_proj: Tensor<B, 3>,
    v_proj: Tensor<B, 3>,
    o_proj: Tensor<B, 3>,
    /// Per-head RMSNorm weights as `[1, 1, 1, head_dim]`.
    q_norm: Tensor<B, 4>,
    k_norm: Tensor<B, 4>,
}

struct Mlp<B: Backend> {
    gate_proj: Tensor<B, 3>,
    up_proj: Tensor<B, 3>,
    down_proj: Tensor<B, 3>,
}

struct TransformerBlock<B: Backend> {
    self_attn: Attention<B>,
    mlp: Mlp<B>,
    /// `[1, 1, hidden]`.
    input_layernorm: Tensor<B, 3>,
    post_attention_layernorm: Tensor<B, 3>,
}

pub struct Qwen3<B: Backend> {
    pub config: Qwen3Config,
    device: B::Device,
    embed_tokens: Tensor<B, 2>,
    layers: Vec<TransformerBlock<B>>,
    norm: Tensor<B, 3>,
    /// `[1, hidden, vocab]`: `lm_head.weight` transposed, or `embed_tokens` transposed when tied.
    lm_head: Tensor<B, 3>,
    /// Parameters loaded, tied embeddings counted once.
    pub parameter_count: usize,
}

/// Keys and values of every layer, `[1, kv_heads, capacity, head_dim]`, allocated per request for
/// `prompt + new tokens` positions and written in place with `slice_assign`; RoPE tables for the
/// same positions.
pub struct KvCache<B: Backend> {
    keys: Vec<Tensor<B, 4>>,
    values: Vec<Tensor<B, 4>>,
    /// `[1, 1, capacity, head_dim]`, rotate-half layout (each half repeated).
    cos: Tensor<B, 4>,
    sin: Tensor<B, 4>,
    pub offset: usize,
}

/// Uploads checkpoint tensors and counts their parameters.
struct Loader<'a, B: Backend> {
    checkpoint: &'a Checkpoint,
    device: &'a B::Device,
    count: usize,
}

impl<B: Backend> Loader<'_, B> {
    /// A PyTorch `Linear` weight (`[out, in]`) as `[1, in, out]`.
    fn linear(&mut self, name: &str, out_features: usize, in_features: usize) -> Result<Tensor<B, 3>, String> {
        let values = self.checkpoint.linear_f32(name, out_features, in_features)?;
        self.count += values.len();
        Ok(Tensor::from_data(TensorData::new(values, vec![1, in_features, out_features]), self.device))
    }

    /// A 1-D weight (`[n]` on disk) shaped to broadcast against activations of rank D.
    fn vector<const D: usize>(&mut self, name: &str, shape: [usize; D]) -> Result<Tensor<B, D>, String> {
        let values = self.checkpoint.f32(name, &[shape[D - 1]])?;
        self.count += values.len();
        Ok(Tensor::from_data(TensorData::new(values, shape.to_vec()), self.device))
    }
}

fn rms_norm<B: Backend, const D: usize>(x: Tensor<B, D>, weight: &Tensor<B, D>, eps: f64) -> Tensor<B, D> {
    let mean_square = (x.clone() * x.clone()).mean_dim(D - 1);
    x * mean_square.add_scalar(eps).sqrt().recip() * weight.clone()
}

fn silu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.clone() * x.neg().exp().add_scalar(1.0).recip()
}

impl<B: Backend> Qwen3<B> {
    pub fn load(config: Qwen3Config, checkpoint: &Checkpoint, device: &B::Device) -> Result<Self, String> {
        let (hidden, heads, kv_heads, head_dim) =
            (config.hidden_size, config.num_attention_heads, config.num_key_value_heads, config.head_dim);
        let (inter, vocab) = (config.intermediate_size, config.vocab_size);
        let mut loader = Loader { checkpoint, device, count: 0 };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("model.layers.{i}");
            layers.push(TransformerBlock {
                self_attn: Attention {
                    q_proj: loader.linear(&format!("{p}.self_attn.q_proj.weight"), heads * head_dim, hidden)?,
                    k_proj: loader.linear(&format!("{p}.self_attn.k_proj.weight"), kv_heads * head_dim, hidden)?,
                    v_proj: loader.linear(&format!("{p}.self_attn.v_proj.weight"), kv_heads * head_dim, hidden)?,
                    o_proj: loader.linear(&format!("{p}.self_attn.o_proj.weight"), hidden, heads * head_dim)?,
                    q_norm: loader.vector(&format!("{p}.self_attn.q_norm.weight"), [1, 1, 1, head_dim])?,
                    k_norm: loader.vector(&format!("{p}.self_attn.k_norm.weight"), [1, 1, 1, head_dim])?,
                },
                mlp: Mlp {
                    gate_proj: loader.linear(&format!("{p}.mlp.gate_proj.weight"), inter, hidden)?,
                    up_proj: loader.linear(&format!("{p}.mlp.up_proj.weight"), inter, hidden)?,
                    down_proj: loader.linear(&format!("{p}.mlp.down_proj.weight"), hidden, inter)?,
                },
                input_layernorm: loader.vector(&format!("{p}.input_layernorm.weight"), [1, 1, hidden])?,
                post_attention_layernorm: loader.vector(&format!("{p}.post_attention_layernorm.weight"), [1, 1, hidden])?,
            });
        }
        let norm = loader.vector("model.norm.weight", [1, 1, hidden])?;
        let embed = checkpoint.f32("model.embed_tokens.weight", &[vocab, hidden])?;
        loader.count += embed.len();
        let lm_head = if config.tie_word_embeddings {
            // Tied (counted once): the head is embed_tokens, transposed on the host. A tied
            // checkpoint that still carries lm_head.weight has it ignored, as mlx-lm does.
            let mut t = vec![0.0f32; embed.len()];
            for v in 0..vocab {
                for h in 0..hidden {
                    t[h * vocab + v] = embed[v * hidden + h];
                }
            }
            Tensor::from_data(TensorData::new(t, vec![1, hidden, vocab]), device)
        } else {
            loader.linear("lm_head.weight", vocab, hidden)?
        };
        let parameter_count = loader.count;
        let embed_tokens = Tensor::from_data(TensorData::new(embed, vec![vocab, hidden]), device);
        Ok(Self { config, device: device.clone(), embed_tokens, layers, norm, lm_head, parameter_count })
    }

    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// A fresh cache for `capacity` positions.
    pub fn new_cache(&self, capacity: usize) -> KvCache<B> {
        let c = &self.config;
        let shape = [1, c.num_key_value_heads, capacity, c.head_dim];
        let half = c.head_dim / 2;
        // f32 throughout, as transformers computes inv_freq and the angles.
        let inv_freq: Vec<f32> = (0..half).map(|i| 1.0 / (c.rope_theta as f32).powf((2 * i) as f32 / c.head_dim as f32)).collect();
        let mut cos = Vec::with_capacity(capacity * c.head_dim);
        let mut sin = Vec::with_capacity(capacity * c.head_dim);
        for position in 0..capacity {
            for _ in 0..2 {
                for &f in &inv_freq {
                    let angle = position as f32 * f;
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                }
            }
        }
        let table = |values: Vec<f32>| Tensor::from_data(TensorData::new(values, vec![1, 1, capacity, c.head_dim]), &self.device);
        KvCache {
            keys: (0..c.num_hidden_layers).map(|_| Tensor::zeros(shape, &self.device)).collect(),
            values: (0..c.num_hidden_layers).map(|_| Tensor::zeros(shape, &self.device)).collect(),
            cos: table(cos),
            sin: table(sin),
            offset: 0,
        }
    }

    /// Final hidden states `[1, L, hidden]` for token ids `[L]`; appends L positions to the cache.
    pub fn forward(&self, tokens: Tensor<B, 1, Int>, cache: &mut KvCache<B>) -> Tensor<B, 3> {
        let length = tokens.dims()[0];
        let hidden = self.config.hidden_size;
        let mut h = self.embed_tokens.clone().select(0, tokens).reshape([1, length, hidden]);
        for (i, block) in self.layers.iter().enumerate() {
            let x = rms_norm(h.clone(), &block.input_layernorm, self.config.rms_norm_eps);
            h = h + self.attention(&block.self_attn, x, i, cache);
            let x = rms_norm(h.clone(), &block.post_attention_layernorm, self.config.rms_norm_eps);
            let m = &block.mlp;
            h = h + silu(x.clone().matmul(m.gate_proj.clone())).mul(x.matmul(m.up_proj.clone())).matmul(m.down_proj.clone());
        }
        cache.offset += length;
        rms_norm(h, &self.norm, self.config.rms_norm_eps)
    }

    /// Logits `[1, L, vocab]`.
    pub fn logits(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        hidden.matmul(self.lm_head.clone())
    }

    fn attention(&self, a: &Attention<B>, x: Tensor<B, 3>, layer: usize, cache: &mut KvCache<B>) -> Tensor<B, 3> {
        let c = &self.config;
        let (length, heads, kv_heads, head_dim) = (x.dims()[1], c.num_attention_heads, c.num_key_value_heads, c.head_dim);
        let groups = c.kv_groups();
        let (start, end) = (cache.offset, cache.offset + length);

        let q = x.clone().matmul(a.q_proj.clone()).reshape([1, length, heads, head_dim]);
        let k = x.clone().matmul(a.k_proj.clone()).reshape([1, length, kv_heads, head_dim]);
        let v = x.matmul(a.v_proj.clone()).reshape([1, length, kv_heads, head_dim]).swap_dims(1, 2);
        // q/k RMSNorm per head, then RoPE at this request's positions.
        let cos = cache.cos.clone().slice([0..1, 0..1, start..end, 0..head_dim]);
        let sin = cache.sin.clone().slice([0..1, 0..1, start..end, 0..head_dim]);
        let q = rope(rms_norm(q, &a.q_norm, c.rms_norm_eps).swap_dims(1, 2), &cos, &sin);
        let k = rope(rms_norm(k, &a.k_norm, c.rms_norm_eps).swap_dims(1, 2), &cos, &sin);

        let region = [0..1, 0..kv_heads, start..end, 0..head_dim];
        cache.keys[layer] = cache.keys[layer].clone().slice_assign(region.clone(), k);
        cache.values[layer] = cache.values[layer].clone().slice_assign(region, v);
        let keys = cache.keys[layer].clone().slice([0..1, 0..kv_heads, 0..end, 0..head_dim]);
        let values = cache.values[layer].clone().slice([0..1, 0..kv_heads, 0..end, 0..head_dim]);

        // Grouped-query attention without repeating K/V: the query heads of one KV head are
        // consecutive, so stack them along the sequence axis, [1, kv_heads, groups·L, head_dim].
        let q = q.reshape([1, kv_heads, groups * length, head_dim]);
        let mut scores = q.matmul(keys.swap_dims(2, 3)).mul_scalar(1.0 / (head_dim as f64).sqrt());
        if length > 1 {
            scores = scores + self.causal_mask(groups, length, start, end);
        }
        let out = softmax(scores, 3).matmul(values).reshape([1, heads, length, head_dim]);
        out.swap_dims(1, 2).reshape([1, length, heads * head_dim]).matmul(a.o_proj.clone())
    }

    /// Additive mask `[1, 1, groups·L, end]`: query row r (position start + r mod L) sees keys ≤ it.
    fn causal_mask(&self, groups: usize, length: usize, start: usize, end: usize) -> Tensor<B, 4> {
        let mut mask = vec![0.0f32; groups * length * end];
        for row in 0..groups * length {
            let position = start + row % length;
            for key in position + 1..end {
                mask[row * end + key] = f32::NEG_INFINITY;
            }
        }
        Tensor::from_data(TensorData::new(mask, vec![1, 1, groups * length, end]), &self.device)
    }
}

/// Non-interleaved RoPE: `x·cos + rotate_half(x)·sin` on `[1, heads, L, head_dim]`.
fn rope<B: Backend>(x: Tensor<B, 4>, cos: &Tensor<B, 4>, sin: &Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, h, l, d] = x.dims();
    let half = d / 2;
    let x1 = x.clone().slice([0..b, 0..h, 0..l, 0..half]);
    let x2 = x.clone().slice([0..b, 0..h, 0..l, half..d]);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos.clone() + rotated * sin.clone()
}
