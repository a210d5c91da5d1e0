//! Greedy generation and teacher-forced scoring. Argmax runs on the device; per token only the id
//! is read back (as one f32: burn-mlx 0.1.2's `argmax` yields MLX uint32 indices that its
//! `into_data` cannot read as i32, so the id is converted to float on the device first; f32 holds
//! every id below 2^24 exactly).

use crate::model::{KvCache, Qwen3};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use std::time::Instant;

pub struct Generation {
    pub token_ids: Vec<u32>,
    /// Nanoseconds from `start` to the moment each token's id was on the host.
    pub token_times_ns: Vec<u64>,
}

/// The argmax token of the last position, `[1]`, still on the device.
fn next_token<B: Backend>(model: &Qwen3<B>, tokens: Tensor<B, 1, Int>, cache: &mut KvCache<B>) -> Tensor<B, 1, Int> {
    let hidden = model.forward(tokens, cache);
    let [_, length, width] = hidden.dims();
    let last = hidden.slice([0..1, length - 1..length, 0..width]);
    model.logits(last).argmax(2).reshape([1])
}

fn read_id<B: Backend>(token: Tensor<B, 1, Int>) -> u32 {
    let values: Vec<f32> = token.float().into_data().to_vec().expect("token id as f32");
    values[0] as u32
}

/// Exactly `max_new_tokens` greedy tokens (EOS ignored), with a fresh cache.
pub fn generate<B: Backend>(model: &Qwen3<B>, prompt: &[u32], max_new_tokens: usize, start: Instant) -> Generation {
    let mut cache = model.new_cache(prompt.len() + max_new_tokens);
    let ids: Vec<i32> = prompt.iter().map(|&t| t as i32).collect();
    let prompt = Tensor::<B, 1, Int>::from_data(TensorData::new(ids, vec![prompt.len()]), model.device());
    let mut token = next_token(model, prompt, &mut cache);
    let mut token_ids = Vec::with_capacity(max_new_tokens);
    let mut token_times_ns = Vec::with_capacity(max_new_tokens);
    for i in 0..max_new_tokens {
        token_ids.push(read_id(token.clone()));
        token_times_ns.push(start.elapsed().as_nanos() as u64);
        if i + 1 < max_new_tokens {
            token = next_token(model, token, &mut cache);
        }
    }
    Generation { token_ids, token_times_ns }
}

pub struct Scores {
    pub argmax_ids: Vec<u32>,
    pub top_k: Vec<Vec<(u32, f32)>>,
}

/// One forward pass over `prompt ++ continuation[..-1]`; the logits that predict each
/// continuation token are read back (scoring is not timed) and ranked on the host.
pub fn score<B: Backend>(model: &Qwen3<B>, prompt: &[u32], continuation: &[u32], top_k: usize) -> Scores {
    let tokens: Vec<i32> = prompt.iter().chain(&continuation[..continuation.len() - 1]).map(|&t| t as i32).collect();
    let length = tokens.len();
    let mut cache = model.new_cache(length);
    let input = Tensor::<B, 1, Int>::from_data(TensorData::new(tokens, vec![length]), model.device());
    let hidden = model.forward(input, &mut cache);
    let width = hidden.dims()[2];
    let rows = continuation.len();
    let logits = model.logits(hidden.slice([0..1, prompt.len() - 1..length, 0..width]));
    let values: Vec<f32> = logits.into_data().to_vec().expect("logits as f32");
    let vocab = values.len() / rows;
    let mut scores = Scores { argmax_ids: Vec::with_capacity(rows), top_k: Vec::with_capacity(rows) };
    for row in values.chunks_exact(vocab) {
        let mut order: Vec<u32> = (0..vocab as u32).collect();
        // Highest first; ties keep the lower id first (stable sort).
        order.sort_by(|&a, &b| row[b as usize].total_cmp(&row[a as usize]));
        scores.argmax_ids.push(order[0]);
        scores.top_k.push(order[..top_k].iter().map(|&id| (id, row[id as usize])).collect());
    }
    scores
}
