//! A decode step's attention in one launch per layer, written in CubeCL: from the fused q/k/v
//! projection's output to the query heads' outputs.
//!
//! With Burn's operations this part of a decode step is the q/k RMSNorm, RoPE (a product with the
//! `rotate_half` matrix, two multiplies and an add), two cache writes (`select_assign`), the mask
//! of the whole cache, the scores' product, the softmax (two reductions and element-wise kernels)
//! and the values' product: a dozen launches a layer, each over the whole cache capacity. Here one
//! cube owns one KV head and the query heads that share it (grouped-query attention) and does it
//! all, attending only to the slots up to the step's position (read from device memory, so a
//! captured decode graph replays it unchanged):
//!
//! 1. one plane per query head and one for the key head: RMSNorm of the head (statistics in f32,
//!    the normalised head rounded to the input dtype, times the weight in that dtype: Hugging
//!    Face Qwen3's order), then RoPE (`x * cos + rotate_half(x) * sin` in the input dtype, as the
//!    Burn path computes it); the key goes to its cache slot, another plane copies the value there;
//! 2. scores: one thread per position, its cached key read as 16-byte vectors against each query
//!    head of the group, scaled by `1 / sqrt(head_dim)`, kept in f32;
//! 3. softmax: one plane per query head: maximum, `exp(s - max)` and their sum, all in f32;
//! 4. values: each thread one vector of one query head's output over one of several streams of
//!    positions (eight positions' loads in flight), then the streams summed and divided by the
//!    softmax sum, rounded once to the input dtype.
//!
//! Scores, probabilities and sums stay in f32 (as flash attention keeps them); shared memory holds
//! `groups * capacity` scores, so the cache capacity is bounded ([`fits`]).
//!
//! **Split** (`--kernels attention+split`, [`AttentionPlan`]): one cube per KV head reads the whole cache
//! on one multiprocessor of many (8 of 132 on an H200), and a long cache does not fit its shared
//! memory. With a split plan, `splits` cubes per KV head each take a contiguous chunk of the
//! positions up to the step's: chunks of `ceil(len / active)` positions, `active = min(splits,
//! ceil(len / MIN_CHUNK))` of the cubes working (the others leave at once), so a short context
//! keeps few cubes and a long one all of them, every step of a captured graph alike. Each cube does
//! phases 2 to 4 over its chunk and writes, per query head, its scores' maximum `m`, the sum `l`
//! of `exp(s - m)` and the unnormalised `Σ exp(s - m) v`, in f32, to scratch buffers; the cube
//! whose chunk holds the step's position also writes its key and value to the cache (phase 1's
//! query heads every cube computes for itself). A second launch ([`combine_splits_kernel`], one
//! thread per output element) adds the chunks up with the log-sum-exp rule: `M = max m`, output
//! `Σ exp(m - M) acc / Σ exp(m - M) l`, rounded once to the input dtype. The same arithmetic as
//! one cube's but for the order of the f32 sums.

use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::{Backend, ExtensionType, tensor::{FloatTensor, IntTensor}};
use burn::tensor::{DType, Shape};
use burn_cubecl::{CubeBackend, CubeRuntime, kernel::into_contiguous, ops::numeric::empty_device_contiguous_dtype, tensor::CubeTensor};
use cubecl::prelude::*;
use super::attention_plan::{AttentionPlan, MIN_CHUNK, PLANE, PLANES, fits};
use super::launch::{plane_width, vector_width};
use super::plane::sum_lanes;

/// Positions whose values one thread loads at once in the values phase: each round of loads waits
/// on memory once, so a longer cache needs fewer rounds (four took 8 rounds at 529 positions).
const IN_FLIGHT: usize = 8;
/// Below any score: the softmax maximum's starting value (a finite literal every compiler takes).
const LOWEST: f32 = -3.0e38;

/// How many of `splits` cubes per KV head work when `len` positions are visible (at least one).
#[cube]
fn active_splits(len: usize, #[comptime] splits: usize) -> usize {
    let wanted = (len + comptime!(MIN_CHUNK - 1)) / comptime!(MIN_CHUNK);
    let mut active = wanted;
    if wanted > splits {
        active = splits;
    }
    active
}

/// One cube per KV head; see the module docs for its four phases. Heads are read and written as
/// `hv = head_dim / N` vectors of `N` elements (16 bytes).
#[cube(launch_unchecked)]
pub fn decode_attention_kernel<F: Float, N: Size, I: Numeric>(
    qkv: &Tensor<Vector<F, N>>,
    norm: &Tensor<Vector<F, N>>,
    cos: &Tensor<Vector<F, N>>,
    sin: &Tensor<Vector<F, N>>,
    position: &Tensor<I>,
    k_cache: &mut Tensor<Vector<F, N>>,
    v_cache: &mut Tensor<Vector<F, N>>,
    out: &mut Tensor<Vector<F, N>>,
    chunk_sums: &mut Tensor<f32>,
    chunk_stats: &mut Tensor<f32>,
    #[comptime] heads: usize,
    #[comptime] kv_heads: usize,
    #[comptime] hv: usize,
    #[comptime] capacity: usize,
    #[comptime] plane: usize,
    #[comptime] inv_width_bits: u32,
    #[comptime] eps_bits: u32,
    #[comptime] scale_bits: u32,
    #[comptime] splits: usize,
    #[comptime] chunk_slots: usize,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let kv = CUBE_POS_X as usize;
    let lane = UNIT_POS_X as usize;
    let warp = UNIT_POS_Y as usize;
    let threads = comptime!(plane * PLANES);
    let tid = warp * plane + lane;
    let groups = comptime!(heads / kv_heads);
    let per_lane = comptime!(hv.div_ceil(plane));
    let half = comptime!(hv / 2);
    let items = comptime!(groups * hv);
    let streams = comptime!(plane * PLANES / (groups * hv));
    let pos = u32::cast_from(position[0]) as usize;
    let len = pos + 1;
    let slot = (kv * capacity + pos) * hv;
    // This cube's positions, `start..end`, and whether the step's slot is among them (it then
    // writes the step's key and value). One cube per KV head: all of them.
    let mut start = 0usize;
    let mut end = len;
    let mut owner = true;
    let split = CUBE_POS_Y as usize;
    if comptime!(splits > 1) {
        let active = active_splits(len, splits);
        if split >= active {
            terminate!();
        }
        let chunk = (len + active - 1) / active;
        start = split * chunk;
        if start > len {
            start = len;
        }
        end = start + chunk;
        if end > len {
            end = len;
        }
        owner = split == pos / chunk;
    }
    let count = end - start;

    let mut normed = Shared::<[Vector<F, N>]>::new_slice(comptime!((groups + 1) * hv));
    let mut queries = Shared::<[Vector<f32, N>]>::new_slice(comptime!(groups * hv));
    let mut scores = Shared::<[f32]>::new_slice(comptime!(groups * chunk_slots));
    let mut inv_sums = Shared::<[f32]>::new_slice(groups);
    let mut partial = Shared::<[Vector<f32, N>]>::new_slice(comptime!(streams * groups * hv));

    // 1. RMSNorm: plane g < groups takes query head kv * groups + g, plane `groups` the key head;
    // the rows of `qkv` are the query heads, then the key heads, then the value heads, and `norm`
    // holds q_norm's weight for every query head, then k_norm's for every key head.
    if warp < groups || (warp == groups && owner) {
        let mut row = heads + kv;
        if warp < groups {
            row = kv * groups + warp;
        }
        let mut squares = Vector::<f32, N>::new(f32::new(0.0));
        #[unroll]
        for i in 0..per_lane {
            let j = i * plane + lane;
            if j < hv {
                let x = Vector::<f32, N>::cast_from(qkv[row * hv + j]);
                squares += x * x;
            }
        }
        let mean = plane_sum(sum_lanes::<N>(squares)) * f32::new(comptime!(f32::from_bits(inv_width_bits)));
        let inv_rms = Vector::<f32, N>::new(f32::recip(f32::sqrt(mean + f32::new(comptime!(f32::from_bits(eps_bits))))));
        #[unroll]
        for i in 0..per_lane {
            let j = i * plane + lane;
            if j < hv {
                normed[warp * hv + j] = Vector::<F, N>::cast_from(Vector::<f32, N>::cast_from(qkv[row * hv + j]) * inv_rms) * norm[row * hv + j];
            }
        }
    }
    sync_cube();

    // RoPE at `pos`: `x * cos + rotate_half(x) * sin`, rotate_half(x) = [-x[half..], x[..half]]
    // (in vectors: head_dim / 2 is a whole number of vectors). The key goes to its cache slot;
    // plane groups + 1 copies the value there.
    if warp < groups || (warp == groups && owner) {
        #[unroll]
        for i in 0..per_lane {
            let j = i * plane + lane;
            if j < hv {
                let x = normed[warp * hv + j];
                let mut partner = j + half;
                if j >= half {
                    partner = j - half;
                }
                let mut rotated = normed[warp * hv + partner];
                if j < half {
                    rotated = -rotated;
                }
                let y = x * cos[pos * hv + j] + rotated * sin[pos * hv + j];
                if warp < groups {
                    queries[warp * hv + j] = Vector::<f32, N>::cast_from(y);
                } else {
                    k_cache[slot + j] = y;
                }
            }
        }
    }
    if warp == groups + 1 && owner {
        #[unroll]
        for i in 0..per_lane {
            let j = i * plane + lane;
            if j < hv {
                v_cache[slot + j] = qkv[(heads + kv_heads + kv) * hv + j];
            }
        }
    }
    // Also orders the cache writes above before the reads below (only the cube that writes the
    // step's slot reads it).
    sync_cube();

    // 2. Scores: one thread per position (threads apart), its key read as hv vectors; slot `p -
    // start` of each query head's scores.
    let scale = f32::new(comptime!(f32::from_bits(scale_bits)));
    let mut p = tid;
    while p < count {
        let key = (kv * capacity + start + p) * hv;
        #[unroll]
        for g in 0..groups {
            let mut dot = Vector::<f32, N>::new(f32::new(0.0));
            #[unroll]
            for j in 0..hv {
                dot += Vector::<f32, N>::cast_from(k_cache[key + j]) * queries[g * hv + j];
            }
            scores[g * chunk_slots + p] = sum_lanes::<N>(dot) * scale;
        }
        p += threads;
    }
    sync_cube();

    // 3. Softmax: plane g < groups over query head g's scores, which become exp(s - max). A split
    // cube keeps the maximum and the sum for the combine (an empty chunk: LOWEST and 0).
    if warp < groups {
        let mut local_max = f32::new(LOWEST);
        let mut q = lane;
        while q < count {
            local_max = max(local_max, scores[warp * chunk_slots + q]);
            q += plane;
        }
        let row_max = plane_max(local_max);
        let mut local_sum = f32::new(0.0);
        let mut q = lane;
        while q < count {
            let e = f32::exp(scores[warp * chunk_slots + q] - row_max);
            scores[warp * chunk_slots + q] = e;
            local_sum += e;
            q += plane;
        }
        let total = plane_sum(local_sum);
        if lane == 0 {
            if comptime!(splits > 1) {
                let at = ((kv * splits + split) * groups + warp) * 2;
                chunk_stats[at] = row_max;
                chunk_stats[at + 1] = total;
            } else {
                inv_sums[warp] = f32::recip(total);
            }
        }
    }
    sync_cube();

    // 4. Values: thread (stream, g, j) sums positions stream, stream + streams, ... of head g's
    // probabilities times the values' vector j, IN_FLIGHT positions' loads in flight at a time; then
    // the streams are added up and divided by the softmax sum.
    let item = tid % items;
    let stream = tid / items;
    let g = item / hv;
    let j = item % hv;
    let probs = g * chunk_slots;
    let values = (kv * capacity + start) * hv + j;
    let mut acc = Vector::<f32, N>::new(f32::new(0.0));
    let mut q = stream;
    while q + comptime!(IN_FLIGHT - 1) * streams < count {
        #[unroll]
        for u in 0..IN_FLIGHT {
            let at = q + u * streams;
            acc += Vector::<f32, N>::cast_from(v_cache[values + at * hv]) * Vector::new(scores[probs + at]);
        }
        q += comptime!(IN_FLIGHT) * streams;
    }
    while q < count {
        acc += Vector::<f32, N>::cast_from(v_cache[values + q * hv]) * Vector::new(scores[probs + q]);
        q += streams;
    }
    partial[tid] = acc;
    sync_cube();
    if tid < items {
        let mut total = Vector::<f32, N>::new(f32::new(0.0));
        #[unroll]
        for s in 0..streams {
            total += partial[s * items + tid];
        }
        if comptime!(splits > 1) {
            // Unnormalised, in f32, lane by lane: `[kv_heads, splits, groups, head_dim]`.
            let lanes = total.vector_size();
            let at = ((kv * splits + split) * items + tid) * lanes;
            #[unroll]
            for i in 0..lanes {
                chunk_sums[at + i] = total.extract(i);
            }
        } else {
            out[kv * items + tid] = Vector::<F, N>::cast_from(total * Vector::new(inv_sums[tid / hv]));
        }
    }
}

/// The split plan's second launch: one cube per KV head, one thread per element of its query
/// heads' outputs (`groups * head_dim`), adding the active chunks up with the log-sum-exp rule
/// (module docs) and rounding once to the dtype.
#[cube(launch_unchecked)]
pub fn combine_splits_kernel<F: Float, I: Numeric>(
    partial: &Tensor<f32>,
    stats: &Tensor<f32>,
    position: &Tensor<I>,
    out: &mut Tensor<F>,
    #[comptime] groups: usize,
    #[comptime] head_dim: usize,
    #[comptime] splits: usize,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let kv = CUBE_POS_X as usize;
    let element = UNIT_POS_X as usize;
    let g = element / head_dim;
    let len = u32::cast_from(position[0]) as usize + 1;
    let active = active_splits(len, splits);
    let mut top = f32::new(LOWEST);
    let mut s = 0usize;
    while s < active {
        top = max(top, stats[((kv * splits + s) * groups + g) * 2]);
        s += 1;
    }
    let mut sum = f32::new(0.0);
    let mut acc = f32::new(0.0);
    let mut s = 0usize;
    while s < active {
        let at = (kv * splits + s) * groups + g;
        let weight = f32::exp(stats[at * 2] - top);
        sum += stats[at * 2 + 1] * weight;
        acc += partial[at * head_dim + element % head_dim] * weight;
        s += 1;
    }
    out[kv * groups * head_dim + element] = F::cast_from(acc * f32::recip(sum));
}

/// One decode step's attention inputs, the kernel's arguments spelled once for every level: the
/// model's call (`StepAttention<Dispatch>`), the backend extension (`kernels/extension.rs`) and the
/// launch below.
#[derive(ExtensionType)]
pub struct StepAttention<B: Backend> {
    /// The fused q/k/v projection of one token, `[.., (heads + 2 kv_heads) * head_dim]`.
    pub qkv: FloatTensor<B>,
    /// `q_norm`'s weight for every query head, then `k_norm`'s for every key head, `[heads +
    /// kv_heads, head_dim]`.
    pub norm: FloatTensor<B>,
    /// The RoPE tables, `[positions, head_dim]` each.
    pub cos: FloatTensor<B>,
    pub sin: FloatTensor<B>,
    /// The step's position, `[1]`.
    pub position: IntTensor<B>,
    /// The caches, `[1, kv_heads, capacity, head_dim]`, written in place at `position`.
    pub k_cache: FloatTensor<B>,
    pub v_cache: FloatTensor<B>,
}

/// What the launch takes besides tensors, fixed for a model and a decoder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionParams {
    /// The q/k RMSNorm's eps.
    pub eps: f32,
    /// The decoder's plan.
    pub plan: AttentionPlan,
}

/// One decode step's attention. Returns the query heads' outputs `[1, 1, heads * head_dim]`, then
/// the key and value caches with this step's slot written (the input buffers, written in place).
pub fn decode_attention<R: CubeRuntime>(inputs: StepAttention<CubeBackend<R>>, params: AttentionParams) -> (CubeTensor<R>, CubeTensor<R>, CubeTensor<R>) {
    let StepAttention { qkv, norm, cos, sin, position, k_cache, v_cache } = inputs;
    let AttentionParams { eps, plan: AttentionPlan { splits, chunk_slots } } = params;
    let cache_shape = k_cache.meta.shape().clone();
    let (kv_heads, capacity, head_dim) = (cache_shape[1], cache_shape[2], cache_shape[3]);
    let heads = norm.meta.shape()[0] - kv_heads;
    let dtype = qkv.dtype;
    assert_eq!(qkv.meta.shape().num_elements(), (heads + 2 * kv_heads) * head_dim, "decode_attention: qkv is not one token's heads");
    assert_eq!(norm.meta.shape()[1], head_dim, "decode_attention: the norm weight's rows are not head_dim wide");
    assert_eq!(cos.meta.shape()[1], head_dim, "decode_attention: the RoPE table's rows are not head_dim wide");
    assert_eq!(heads % kv_heads, 0, "decode_attention: {heads} query heads do not group over {kv_heads} KV heads");
    let groups = heads / kv_heads;
    assert!(splits > 0 && chunk_slots >= AttentionPlan::chunk_slots(capacity, splits), "decode_attention: a plan of {splits} splits of {chunk_slots} slots does not cover a cache of {capacity}");
    assert!(fits(groups, head_dim, chunk_slots, dtype.size()), "decode_attention: {heads} heads over {kv_heads} of {head_dim} with chunks of {chunk_slots} slots do not fit the kernel");
    for (name, t) in [("norm", &norm), ("cos", &cos), ("sin", &sin), ("k_cache", &k_cache), ("v_cache", &v_cache)] {
        assert_eq!(t.dtype, dtype, "decode_attention: {name} differs from qkv in dtype");
    }
    // The caches are written in place, as Burn's own in-place operations do: a buffer another
    // tensor still shares is copied first.
    let writable = |t: CubeTensor<R>| if t.can_mut() && t.is_contiguous() { t } else { into_contiguous(t.copy()) };
    let (k_cache, v_cache) = (writable(k_cache), writable(v_cache));
    let [qkv, norm, cos, sin, position] = [qkv, norm, cos, sin, position].map(into_contiguous);
    let out = empty_device_contiguous_dtype(qkv.client.clone(), qkv.device.clone(), Shape::new([1, 1, heads * head_dim]), dtype);
    // The split chunks' results, f32: `[kv_heads, splits, groups, head_dim]` sums and `[kv_heads,
    // splits, groups, 2]` maxima and softmax sums. One cube per KV head reads neither: one element each.
    let scratch = |elements: usize| empty_device_contiguous_dtype(qkv.client.clone(), qkv.device.clone(), Shape::new([elements]), DType::F32);
    let (partial, stats) = match splits {
        1 => (scratch(1), scratch(1)),
        _ => (scratch(kv_heads * splits * groups * head_dim), scratch(kv_heads * splits * groups * 2)),
    };

    let plane = plane_width(&qkv.client).unwrap_or_else(|e| panic!("decode_attention: this device cannot run the kernel: {e}"));
    assert_eq!(plane as usize, PLANE, "decode_attention: laid out for planes of {PLANE}, the device's are {plane}");
    // The widest vector (up to 16 bytes) that divides half a head: RoPE swaps whole vectors.
    let vector = vector_width(head_dim / 2, dtype);
    let position_dtype = position.dtype;
    let client = qkv.client.clone();
    let combine_position = position.clone();
    // SAFETY: every index is in bounds: rows of qkv/norm below heads + 2 kv_heads / heads +
    // kv_heads, RoPE rows and cache slots at `position` (below the cache capacity, which the
    // caller's position never reaches, and below the RoPE table's rows), shared memory sized above.
    unsafe {
        decode_attention_kernel::launch_unchecked::<R>(
            &client,
            CubeCount::Static(kv_heads as u32, splits as u32, 1),
            CubeDim::new_2d(plane, PLANES as u32),
            vector,
            qkv.into_tensor_arg(),
            norm.into_tensor_arg(),
            cos.into_tensor_arg(),
            sin.into_tensor_arg(),
            position.into_tensor_arg(),
            k_cache.clone().into_tensor_arg(),
            v_cache.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            partial.clone().into_tensor_arg(),
            stats.clone().into_tensor_arg(),
            heads,
            kv_heads,
            head_dim / vector,
            capacity,
            plane as usize,
            (1.0 / head_dim as f32).to_bits(),
            eps.to_bits(),
            (1.0 / (head_dim as f32).sqrt()).to_bits(),
            splits,
            chunk_slots,
            [dtype_to_storage_type(dtype), dtype_to_storage_type(position_dtype)],
        );
        if splits > 1 {
            // SAFETY: one cube per KV head of `groups * head_dim` threads (at most
            // COMBINE_THREADS, `AttentionPlan::choose`), reading the scratch written above in its layout
            // for the active splits (below `splits`) and writing one element each of `out`.
            combine_splits_kernel::launch_unchecked::<R>(
                &client,
                CubeCount::Static(kv_heads as u32, 1, 1),
                CubeDim::new_1d((groups * head_dim) as u32),
                partial.into_tensor_arg(),
                stats.into_tensor_arg(),
                combine_position.into_tensor_arg(),
                out.clone().into_tensor_arg(),
                groups,
                head_dim,
                splits,
                [dtype_to_storage_type(dtype), dtype_to_storage_type(position_dtype)],
            );
        }
    }
    (out, k_cache, v_cache)
}
