//! `--bench-prefill L`: where a long prompt's prefill spends its time (a GPU-host probe, not part of
//! the benchmark protocol). After the same load, warm-up and check as a served run, it times the
//! whole prefill of an L-token prompt (ids 0..L) as a request runs it, then one full chunk's masked
//! attention ([`Offset::Chunk`]) on random tensors of the model's shapes: with Burn's op
//! (`--chunk-attention burn`), and in the explicit form (`explicit`) piece by piece, its first
//! product again on freshly made contiguous operands (does the cache's transposed view cost?), beside
//! the one-pass causal attention of a prompt of the chunk's length. The products' rate (TFLOP/s)
//! tells a tensor-core kernel (hundreds) from a fallback (under one). It prints one table and exits.
//!
//! Timing is wall time around each piece with the device drained before and after (one element of
//! the result read back); each piece runs once untimed (compilation, autotune), then `RUNS` times,
//! and the median is printed; the whole prefill, which may take seconds, once after its untimed run.

use crate::cache::{AttentionMask, Offset};
use crate::generate::capacity_for;
use crate::model::Model;
use crate::sdpa::{AttentionKernel, explicit};
use burn::tensor::activation::softmax;
use burn::tensor::{DType, Distribution, Int, Tensor, TensorData};
use std::time::Instant;

const RUNS: usize = 3;

/// Prints the table for a prefill of `len` tokens.
pub fn run(model: &Model, len: usize, chunk: usize) {
    let device = &model.device;
    let c = &model.config;
    let capacity = capacity_for(len, 2);
    println!("| what | shape | ms (pieces: median of {RUNS}) | TFLOP/s |");
    println!("|---|---|---:|---:|");
    let ids: Vec<i32> = (0..len as i32).collect();
    let prompt = || Tensor::<1, Int>::from_data(TensorData::new(ids.clone(), [len]), (device, DType::I32));
    let mut cache = model.new_cache(capacity);
    let whole = timed(1, || drain3(model.prefill(prompt(), &mut cache)));
    let passes = if len <= chunk { "one pass".to_owned() } else { format!("{} chunks of {chunk}", len.div_ceil(chunk)) };
    let passes = format!("{passes}, chunks attend {}", model.chunk_attention().name());
    row("the whole prefill, as a request runs it", &format!("{len} tokens, {passes}, cache {capacity}"), whole, None);

    // One chunk's attention on random data of the model's shapes: queries of `rows` tokens against
    // `slots` cache slots, masked as a chunk starting at `start`.
    let rows = chunk.min(len);
    let (heads, kv_heads, hd) = (c.num_attention_heads, c.num_key_value_heads, c.head_dim);
    let random = |shape: [usize; 4]| drain4(Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), (device, model.dtype)));
    let (q, k, v) = (random([1, heads, rows, hd]), random([1, kv_heads, capacity, hd]), random([1, kv_heads, capacity, hd]));
    let start = len.saturating_sub(rows);
    let mask = cache.make_mask(rows, &Offset::Chunk { start, attention: model.chunk_attention() });
    let shape = format!("{rows} queries × {capacity} slots, {heads} heads on {kv_heads}");
    // Each of the two products: 2·heads·rows·slots·head_dim.
    let product = 2.0 * (heads * rows * capacity * hd) as f64;
    for kernel in [AttentionKernel::Burn, AttentionKernel::Explicit] {
        let what = format!("chunk attention, --chunk-attention {}", kernel.name());
        row(&what, &shape, timed(RUNS, || drain4(kernel.attend(q.clone(), k.clone(), v.clone(), &mask))), Some(2.0 * product));
    }
    row("  scores: q · kᵀ (grouped heads, kᵀ a view of the cache)", &shape, timed(RUNS, || drain4(explicit::scores(q.clone(), k.clone()))), Some(product));
    let groups = heads / kv_heads;
    let (q_grouped, k_transposed) = (random([1, kv_heads, groups * rows, hd]), random([1, kv_heads, hd, capacity]));
    row("  the same product on contiguous operands", &shape, timed(RUNS, || drain4(q_grouped.clone().matmul(k_transposed.clone()))), Some(product));
    let s = drain4(explicit::scores(q.clone(), k.clone()));
    row("  mask (broadcast [1, 1, L, slots])", &shape, timed(RUNS, || drain4(explicit::masked(s.clone(), &mask, rows))), None);
    let m = drain4(explicit::masked(s.clone(), &mask, rows));
    row("  softmax over the slots", &shape, timed(RUNS, || drain4(softmax(m.clone(), 3))), None);
    let p = drain4(softmax(m, 3));
    row("  probabilities · v", &shape, timed(RUNS, || drain4(p.clone().matmul(v.clone()))), Some(product));
    // The same queries as a one-pass prompt of `rows` tokens: causal, keys and values of `rows` slots.
    let (k1, v1) = (drain4(k.clone().narrow(2, 0, rows)), drain4(v.clone().narrow(2, 0, rows)));
    for kernel in [AttentionKernel::Explicit, AttentionKernel::Burn] {
        let what = format!("one-pass causal attention, --attention {}", kernel.name());
        let causal = 2.0 * (heads * rows * rows * hd) as f64;
        row(&what, &format!("{rows} queries × {rows} slots"), timed(RUNS, || drain4(kernel.attend(q.clone(), k1.clone(), v1.clone(), &AttentionMask::Causal))), Some(2.0 * causal));
    }
}

/// One line of the table; `flops`: the arithmetic of the products the row times (the causal
/// rows count the whole square, as the kernels compute it).
fn row(what: &str, shape: &str, ms: f64, flops: Option<f64>) {
    let rate = flops
        .map(|f| f / (ms * 1e-3) / 1e12)
        .map(|r| if r >= 10.0 { format!("{r:.0}") } else if r >= 1.0 { format!("{r:.1}") } else { format!("{r:.3}") })
        .unwrap_or_default();
    println!("| {what} | {shape} | {ms:.2} | {rate} |");
}

/// One untimed run, then the median of `runs` timed ones, in milliseconds.
fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    f();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// Waits for `t` by reading one of its elements back; returns it for further use.
fn drain4(t: Tensor<4>) -> Tensor<4> {
    let _ = t.clone().slice([0..1, 0..1, 0..1, 0..1]).into_data();
    t
}

fn drain3(t: Tensor<3>) {
    let _ = t.slice([0..1, 0..1, 0..1]).into_data();
}
