//! Greedy generation and teacher-forced scoring on top of [`Model`].

use crate::cache::KvCache;
use crate::model::Model;
use crate::op_count::OpCounter;
use crate::step_graph::StepGraph;
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

/// Granularity of KV cache capacities, in positions.
const CACHE_BUCKET: usize = 256;

/// The cache capacity, and so the [`Decoder`], of a request. Decode kernels are shaped by the
/// capacity; rounding it up lets requests of similar length (and the warm-up) share a decoder,
/// its compiled and autotuned kernels and its graph.
pub fn capacity_for(prompt_len: usize, max_new_tokens: usize) -> usize {
    (prompt_len + max_new_tokens).next_multiple_of(CACHE_BUCKET)
}

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

fn token_tensor(ids: &[u32], device: &Device) -> Tensor<1, Int> {
    let ids: Vec<i32> = ids.iter().map(|&id| id as i32).collect();
    let len = ids.len();
    Tensor::from_data(TensorData::new(ids, [len]), (device, DType::I32))
}

/// Reads one token id back from the device: the only device-to-host transfer per step (4 bytes).
fn read_token(token: &Tensor<1, Int>) -> u32 {
    token.clone().into_data().iter::<i64>().next().expect("one token") as u32
}

/// What a generation prints to stderr per request besides its tokens (diagnostics for GPU runs,
/// from the command line; the timed path is the same with them off).
#[derive(Debug, Clone, Copy, Default)]
pub struct Diagnostics {
    /// `--step-times`: [`HostSplit`].
    pub step_times: bool,
    /// `--op-count`: the operations per decode step ([`OpCounter`]).
    pub op_count: bool,
}

/// Where a request's host time went: issuing a decode step's operations (`building`; on a lazy
/// backend such as Burn's Fusion this only records them) and reading its token back (`reading`:
/// flushing what was recorded, launching it and waiting for the device).
#[derive(Default)]
struct HostSplit {
    building: std::time::Duration,
    reading: std::time::Duration,
}

impl HostSplit {
    fn report(&self, tokens: usize) {
        let per_token = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / tokens as f64;
        eprintln!(
            "qwen3-burn-runner: {tokens} tokens: build {:.3} ms/token, read {:.3} ms/token",
            per_token(self.building),
            per_token(self.reading)
        );
    }
}

/// Everything a decode step reads and writes, in device buffers that live as long as the
/// [`Decoder`]: the KV cache, the step's input token and its position. A captured graph replays
/// against exactly these buffers, so they are only ever written in place.
struct DecodeState {
    cache: KvCache,
    /// `[1]`: the token the next step embeds.
    token: Tensor<1, Int>,
    /// `[1]`: its position.
    position: Tensor<1, Int>,
}

impl DecodeState {
    /// Sets the next step's input token and position, in place where a replay will read them.
    fn set_input(&mut self, token: Tensor<1, Int>, position: Tensor<1, Int>) {
        self.token.inplace(|t| t.slice_assign([0..1], token));
        self.position.inplace(|p| p.slice_assign([0..1], position));
    }
}

type StepFn = Box<dyn FnMut() -> Tensor<1, Int>>;

/// How a decode step is issued: the model's operations run again (recorded one by one by Burn's
/// fusion on GPU backends), or one replay of a graph captured from them (CUDA).
enum StepRunner {
    Eager(StepFn),
    /// The graph replays against buffers the step closure keeps alive: keep the closure too.
    Graph(StepGraph, #[allow(dead_code)] StepFn),
}

/// Greedy decoding for one cache capacity; reused by every request of that capacity.
pub struct Decoder {
    model: Rc<Model>,
    state: Rc<RefCell<DecodeState>>,
    runner: StepRunner,
    /// Why the step is not a graph, when one was asked for and the backend refused.
    pub capture_error: Option<String>,
}

impl Decoder {
    /// Picks how the steps attend (once: the model's plan for this capacity) and, with `graph`,
    /// captures the decode step (which runs it four times to warm up and record; what those runs
    /// write sits in slots a prefill overwrites); where the backend refuses, the step stays plain
    /// and `capture_error` says why.
    pub fn new(model: Rc<Model>, capacity: usize, graph: bool) -> Self {
        let device = model.device.clone();
        let plan = model.attention_plan(capacity);
        if let Some(plan) = plan {
            eprintln!("qwen3-burn-runner: decode steps on {capacity} cache slots: attention kernel, {} cube(s) per KV head, {} score slots each", plan.splits, plan.chunk_slots);
        }
        let one = || Tensor::<1, Int>::zeros([1], (&device, DType::I32));
        let state = Rc::new(RefCell::new(DecodeState { cache: model.new_cache(capacity), token: one(), position: one() }));
        let mut step: StepFn = {
            let (model, state) = (model.clone(), state.clone());
            Box::new(move || {
                let mut guard = state.borrow_mut();
                let s = &mut *guard;
                let logits = model.decode_logits(s.token.clone(), s.position.clone(), plan, &mut s.cache);
                let next: Tensor<1, Int> = logits.argmax(2).reshape([1]);
                let advanced = s.position.clone().add_scalar(1);
                s.set_input(next.clone(), advanced);
                next
            })
        };
        let (runner, capture_error) = if graph {
            match StepGraph::capture(&device, &mut step) {
                Ok(captured) => (StepRunner::Graph(captured, step), None),
                Err(e) => (StepRunner::Eager(step), Some(e)),
            }
        } else {
            (StepRunner::Eager(step), None)
        };
        Self { model, state, runner, capture_error }
    }

    /// Whether steps replay a captured graph.
    pub fn is_graph(&self) -> bool {
        matches!(self.runner, StepRunner::Graph(..))
    }

    /// Prefills `prompt` (from position 0) and returns its greedy next token, `[1]`, which is also
    /// the first decode step's input.
    fn start(&mut self, prompt: &[u32]) -> Tensor<1, Int> {
        let device = &self.model.device;
        let mut guard = self.state.borrow_mut();
        let s = &mut *guard;
        let hidden = self.model.prefill(token_tensor(prompt, device), &mut s.cache);
        let first: Tensor<1, Int> = self.model.logits(hidden.narrow(1, prompt.len() - 1, 1)).argmax(2).reshape([1]);
        s.set_input(first.clone(), token_tensor(&[prompt.len() as u32], device));
        first
    }

    /// One decode step: the greedy token after the current input, `[1]`, left on the device.
    fn step(&mut self) -> Tensor<1, Int> {
        match &mut self.runner {
            StepRunner::Eager(step) => step(),
            // SAFETY: the graph reads and writes the model's weights and `state`'s buffers, both
            // kept alive by the closure it holds (`Rc`s) and written only in place; everything
            // runs on this thread's stream, so refreshes and reads are ordered with the replay.
            StepRunner::Graph(graph, _) => unsafe { graph.replay() },
        }
    }
}

/// Greedy generation for requests of any length: one [`Decoder`] per cache capacity.
pub struct Generator {
    pub model: Rc<Model>,
    /// Capture decode steps as graphs where the backend can.
    graph: bool,
    diagnostics: Diagnostics,
    decoders: HashMap<usize, Decoder>,
}

impl Generator {
    pub fn new(model: Rc<Model>, graph: bool, diagnostics: Diagnostics) -> Self {
        Self { model, graph, diagnostics, decoders: HashMap::new() }
    }

    /// The decoder for a request's capacity, created (and its graph captured) on first use.
    pub fn decoder(&mut self, capacity: usize) -> &mut Decoder {
        let (model, graph) = (&self.model, self.graph);
        self.decoders.entry(capacity).or_insert_with(|| Decoder::new(model.clone(), capacity, graph))
    }

    /// Prefills `prompt` (one forward pass, or chunks of a long one: `Model::prefill`), then
    /// decodes one token per step, `max_new_tokens` in all (EOS ignored). The argmax stays on the
    /// device and feeds the next step directly.
    pub fn generate(&mut self, prompt: &[u32], max_new_tokens: usize, start: Instant) -> Generation {
        let diagnostics = self.diagnostics;
        let decoder = self.decoder(capacity_for(prompt.len(), max_new_tokens));
        let mut token_ids = Vec::with_capacity(max_new_tokens);
        let mut token_times_ns = Vec::with_capacity(max_new_tokens);
        let mut next = decoder.start(prompt);
        let mut split = HostSplit::default();
        let mut op_counter = None;
        loop {
            let before_read = Instant::now();
            token_ids.push(read_token(&next));
            token_times_ns.push(start.elapsed().as_nanos() as u64);
            split.reading += before_read.elapsed();
            // The first read waited for the prefill: decode steps are counted from here.
            op_counter.get_or_insert_with(|| OpCounter::start(diagnostics.op_count));
            if token_ids.len() == max_new_tokens {
                break;
            }
            let before_build = Instant::now();
            next = decoder.step();
            split.building += before_build.elapsed();
        }
        if diagnostics.step_times {
            split.report(max_new_tokens);
        }
        if let Some(counter) = op_counter {
            counter.finish(max_new_tokens - 1);
        }
        Generation { token_ids, token_times_ns }
    }
}

/// One teacher-forced pass over `prompt ++ continuation`; the logits at position
/// `prompt.len() - 1 + i` predict `continuation[i]`.
pub fn score(model: &Model, prompt: &[u32], continuation: &[u32], top_k: usize) -> Scores {
    let sequence: Vec<u32> = prompt.iter().chain(continuation).copied().collect();
    let mut cache = model.new_cache(sequence.len());
    let hidden = model.prefill(token_tensor(&sequence, &model.device), &mut cache);
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

#[cfg(all(test, feature = "cpu"))]
mod tests {
    use super::*;
    use crate::config::Qwen3Config;
    use crate::checkpoint::{Checkpoint, write_f32_safetensors};
    use crate::kernels::Kernels;
    use crate::quant::WeightQuant;
    use crate::sdpa::AttentionKernel;
    use std::collections::BTreeMap;

    /// A random 2-layer Qwen3 small enough to build in a test (head_dim != hidden / heads).
    fn tiny_model(dir: &std::path::Path, tied: bool) -> Qwen3Config {
        let config = Qwen3Config {
            vocab_size: 97, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2,
            num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8, rope_theta: 10_000.0,
            rms_norm_eps: 1e-6, tie_word_embeddings: tied, max_position_embeddings: 64,
        };
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % 2001) as f32 / 1000.0 - 1.0
                })
                .collect()
        };
        let (d, i, hd, v) = (16, 24, 8, 97);
        let mut tensors = BTreeMap::new();
        let mut add = |name: String, shape: Vec<usize>| {
            let values = random(shape.iter().product());
            tensors.insert(name, (shape, values));
        };
        add("model.embed_tokens.weight".into(), vec![v, d]);
        add("model.norm.weight".into(), vec![d]);
        if !tied {
            add("lm_head.weight".into(), vec![v, d]);
        }
        for l in 0..2 {
            let p = format!("model.layers.{l}");
            add(format!("{p}.self_attn.q_proj.weight"), vec![4 * hd, d]);
            add(format!("{p}.self_attn.k_proj.weight"), vec![2 * hd, d]);
            add(format!("{p}.self_attn.v_proj.weight"), vec![2 * hd, d]);
            add(format!("{p}.self_attn.o_proj.weight"), vec![d, 4 * hd]);
            add(format!("{p}.self_attn.q_norm.weight"), vec![hd]);
            add(format!("{p}.self_attn.k_norm.weight"), vec![hd]);
            add(format!("{p}.mlp.gate_proj.weight"), vec![i, d]);
            add(format!("{p}.mlp.up_proj.weight"), vec![i, d]);
            add(format!("{p}.mlp.down_proj.weight"), vec![d, i]);
            add(format!("{p}.input_layernorm.weight"), vec![d]);
            add(format!("{p}.post_attention_layernorm.weight"), vec![d]);
        }
        write_f32_safetensors(&dir.join("model.safetensors"), &tensors);
        config
    }

    /// Decode steps (fixed-shape cache writes, masked attention) must agree with one
    /// teacher-forced prefill over the same tokens, for both attention implementations, through
    /// the graph path (on this backend: its eager fallback) and the plain one, and on a decoder
    /// reused by a second, shorter request (slots the first one wrote must stay unseen).
    #[test]
    fn greedy_decode_agrees_with_teacher_forced_prefill() {
        for tied in [true, false] {
            let dir = std::env::temp_dir().join(format!("qwen3-burn-decode-{tied}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let config = tiny_model(&dir, tied);
            let checkpoint = Checkpoint::open(&dir).unwrap();
            let prompts: [&[u32]; 2] = [&[3, 14, 15, 92, 65], &[27, 18]];
            let mut generated = Vec::new();
            for attention in [AttentionKernel::Explicit, AttentionKernel::Burn] {
                let model = Model::load(config.clone(), &checkpoint, &Device::flex(), DType::F32, attention, Kernels::BURN, WeightQuant::None).unwrap();
                let model = Rc::new(model);
                for graph in [true, false] {
                    let mut generator = Generator::new(model.clone(), graph, Diagnostics::default());
                    for prompt in prompts {
                        let generation = generator.generate(prompt, 6, Instant::now());
                        let scores = score(&model, prompt, &generation.token_ids, 3);
                        assert_eq!(scores.argmax_ids, generation.token_ids, "tied={tied} {attention:?} graph={graph}");
                        assert!(generation.token_times_ns.windows(2).all(|w| w[0] <= w[1]));
                        generated.push(generation.token_ids);
                    }
                    assert!(!generator.decoder(CACHE_BUCKET).is_graph(), "flex has no graph capture");
                }
            }
            assert!(generated.chunks(2).all(|runs| runs == &generated[..2]), "tied={tied}: paths disagree: {generated:?}");
        }
    }

    /// A prompt of several prefill chunks (4 tokens each here, 5 full and a partial one) must give
    /// the same prefill logits and greedy tokens as one pass over it, for both attention
    /// implementations in the one pass and both in the chunks (`--chunk-attention`); so must a
    /// shorter chunked prompt on the decoder the long one left its keys in (the first chunk zeros
    /// the slots after it).
    #[test]
    fn chunked_prefill_agrees_with_one_pass() {
        let dir = std::env::temp_dir().join(format!("qwen3-burn-chunked-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = tiny_model(&dir, true);
        let checkpoint = Checkpoint::open(&dir).unwrap();
        let long: Vec<u32> = (0..23).map(|i| (i * 37 + 5) % 97).collect();
        let short: Vec<u32> = long[..9].iter().rev().copied().collect();
        let kernels = [AttentionKernel::Explicit, AttentionKernel::Burn];
        for (attention, chunk_attention) in kernels.into_iter().flat_map(|a| kernels.map(|c| (a, c))) {
            let load = |chunk: usize| {
                let model = Model::load(config.clone(), &checkpoint, &Device::flex(), DType::F32, attention, Kernels::BURN, WeightQuant::None).unwrap();
                Rc::new(model.with_prefill_chunk(chunk).with_chunk_attention(chunk_attention))
            };
            let (one_pass, chunked) = (load(long.len()), load(4));
            let prefill_logits = |model: &Model| {
                let mut cache = model.new_cache(capacity_for(long.len(), 0));
                let logits = model.logits(model.prefill(token_tensor(&long, &model.device), &mut cache));
                logits.into_data().iter::<f32>().collect::<Vec<f32>>()
            };
            let (want, got) = (prefill_logits(&one_pass), prefill_logits(&chunked));
            assert_eq!(want.len(), got.len());
            let differing = want.iter().zip(&got).position(|(a, b)| !((a - b).abs() < 1e-4));
            assert_eq!(differing, None, "{attention:?}, chunks {chunk_attention:?}: chunked prefill logits differ (or are NaN) at this index");

            let greedy = |model: &Rc<Model>| {
                let mut generator = Generator::new(model.clone(), false, Diagnostics::default());
                [&long, &short].map(|prompt| generator.generate(prompt, 8, Instant::now()).token_ids)
            };
            let want = greedy(&one_pass);
            assert_eq!(greedy(&chunked), want, "{attention:?}, chunks {chunk_attention:?}");
            let fresh = Generator::new(one_pass.clone(), false, Diagnostics::default()).generate(&short, 8, Instant::now()).token_ids;
            assert_eq!(want[1], fresh, "{attention:?}: a reused decoder must not see the last request's slots");
        }
    }

    /// With `rows` in the kernel set, each linear holds only the kernel's `[out, in]` rows (gate
    /// and up rows in pairs where SwiGLU is folded in), and a prefill reads them as `W · xᵀ`: its
    /// logits must be those of the same set without `rows` (Burn's `[in, out]` columns), within
    /// 1e-4 in f32, for tied and untied heads. Prefill only: the kernel itself needs a CubeCL
    /// backend.
    #[test]
    fn prefill_on_the_kernels_rows_agrees_with_burns_columns() {
        let prompt: Vec<u32> = (0..11).map(|i| (i * 37 + 5) % 97).collect();
        let gemv = Kernels { gemv: true, ..Kernels::BURN };
        let gemv_fused = Kernels { gemv: true, fuse: true, prenorm: true, ..Kernels::BURN };
        for tied in [true, false] {
            let dir = std::env::temp_dir().join(format!("qwen3-burn-rows-{tied}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let config = tiny_model(&dir, tied);
            let checkpoint = Checkpoint::open(&dir).unwrap();
            let prefill_logits = |kernels: Kernels| {
                let model = Model::load(config.clone(), &checkpoint, &Device::flex(), DType::F32, AttentionKernel::Explicit, kernels, WeightQuant::None).unwrap();
                let mut cache = model.new_cache(capacity_for(prompt.len(), 0));
                let logits = model.logits(model.prefill(token_tensor(&prompt, &model.device), &mut cache));
                logits.into_data().iter::<f32>().collect::<Vec<f32>>()
            };
            let burn = prefill_logits(Kernels::BURN);
            for kernels in [gemv, gemv_fused] {
                let want = prefill_logits(kernels);
                assert_eq!(want, burn, "tied={tied} kernels={}: without rows, prefill is Burn's own", kernels.name());
                let with_rows = Kernels { rows: true, ..kernels };
                let got = prefill_logits(with_rows);
                assert_eq!(want.len(), got.len());
                let differing = want.iter().zip(&got).position(|(a, b)| !((a - b).abs() < 1e-4));
                assert_eq!(differing, None, "tied={tied} kernels={}: logits differ (or are NaN) at this index", with_rows.name());
            }
        }
    }
}
