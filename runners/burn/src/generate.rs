//! Greedy generation and teacher-forced scoring on top of [`Qwen3`].

use crate::model::Qwen3;
use burn::tensor::{DType, Int, Tensor, TensorData, backend::Backend};
use std::time::Instant;

pub struct Generation {
    pub token_ids: Vec<u32>,
    /// Nanoseconds from `start` to the moment each token id was on the host.
    pub token_times_ns: Vec<u64>,
}

pub struct Scores {
    pub argmax_ids: Vec<u32>,
    /// Per continuation position, `(token_id, logit)` pairs, highest logit first.
    pub top_k: Vec<Vec<(u32, f32)>>,
}

fn token_tensor<B: Backend>(ids: &[u32], device: &B::Device) -> Tensor<B, 1, Int> {
    let ids: Vec<i32> = ids.iter().map(|&id| id as i32).collect();
    let len = ids.len();
    Tensor::from_data(TensorData::new(ids, [len]), (device, DType::I32))
}


/// Reads one token id back from the device: the only device-to-host transfer per step (4 bytes).
fn read_token<B: Backend>(token: &Tensor<B, 1, Int>) -> u32 {
    token.clone().into_data().iter::<i64>().next().expect("one token") as u32
}

/// Prefills `prompt` in one forward pass, then decodes one token per step, `max_new_tokens` in
/// all (EOS ignored). The argmax stays on the device and feeds the next step directly.
pub fn generate<B: Backend>(model: &Qwen3<B>, prompt: &[u32], max_new_tokens: usize, start: Instant) -> Generation {
    let mut cache = model.new_cache(prompt.len() + max_new_tokens);
    let mut token_ids = Vec::with_capacity(max_new_tokens);
    let mut token_times_ns = Vec::with_capacity(max_new_tokens);

    let hidden = model.forward(token_tensor(prompt, &model.device), &mut cache);
    let last = hidden.narrow(1, prompt.len() - 1, 1);
    let mut next: Tensor<B, 1, Int> = model.logits(last).argmax(2).reshape([1]);
    loop {
        token_ids.push(read_token(&next));
        token_times_ns.push(start.elapsed().as_nanos() as u64);
        if token_ids.len() == max_new_tokens {
            break;
        }
        let hidden = model.forward(next, &mut cache);
        next = model.logits(hidden).argmax(2).reshape([1]);
    }
    Generation { token_ids, token_times_ns }
}

/// One teacher-forced pass over `prompt ++ continuation`; the logits at position
/// `prompt.len() - 1 + i` predict `continuation[i]`.
pub fn score<B: Backend>(model: &Qwen3<B>, prompt: &[u32], continuation: &[u32], top_k: usize) -> Scores {
    let sequence: Vec<u32> = prompt.iter().chain(continuation).copied().collect();
    let mut cache = model.new_cache(sequence.len());
    let hidden = model.forward(token_tensor(&sequence, &model.device), &mut cache);
    let predicting = hidden.narrow(1, prompt.len() - 1, continuation.len());
    let logits = model.logits(predicting).cast(DType::F32);
    let argmax: Vec<u32> = logits.clone().argmax(2).into_data().iter::<i64>().map(|id| id as u32).collect();
    let (values, indices) = logits.topk_with_indices(top_k, 2);
    let values: Vec<f32> = values.into_data().iter::<f32>().collect();
    let indices: Vec<u32> = indices.into_data().iter::<i64>().map(|id| id as u32).collect();
    let top_k = values
        .chunks(top_k)
        .zip(indices.chunks(top_k))
        .map(|(values, indices)| indices.iter().copied().zip(values.iter().copied()).collect())
        .collect();
    Scores { argmax_ids: argmax, top_k }
}
