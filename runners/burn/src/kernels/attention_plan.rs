//! What the decode attention kernel (`decode_attention.rs`) takes, decided on the host without a
//! device: its shared-memory layout ([`fits`]) and the plan each decoder picks once from its cache
//! capacity and the device's multiprocessor count ([`AttentionPlan`]), with the split walk's
//! chunking and log-sum-exp combine checked here against a plain softmax (the kernels index the
//! same way; the CPU backend cannot run them).
// Without a CubeCL backend only the tests use it.
#![cfg_attr(not(feature = "kernels"), allow(dead_code))]

use super::launch::vector_width_bytes;

/// Planes per cube: at least `groups + 2` (the norm/RoPE phase's query, key and value planes).
pub const PLANES: usize = 16;
/// The plane width the kernel is laid out for ([`fits`]); NVIDIA's warps.
pub const PLANE: usize = 32;
/// Shared memory the kernel may use, in bytes (CUDA's static limit per block).
const SHARED_BYTES: usize = 48 * 1024;
/// The fewest positions a split chunk takes while other cubes of its head idle: below it the
/// kernel's fixed cost per cube (its query heads' norm and RoPE) outweighs the walk.
pub const MIN_CHUNK: usize = 64;

/// Whether the kernel's layout takes `groups` query heads per KV head of `head_dim` elements of
/// `elem_bytes` bytes, and its shared memory the scores of `slots` positions (a whole cache of one
/// cube per KV head, a chunk of a split one).
pub fn fits(groups: usize, head_dim: usize, slots: usize, elem_bytes: usize) -> bool {
    let n = vector_width_bytes(head_dim / 2, elem_bytes);
    let hv = head_dim / n;
    let threads = PLANE * PLANES;
    if PLANES < groups + 2 || threads % (groups * hv) != 0 || hv.div_ceil(PLANE) > 1 {
        return false;
    }
    let streams = threads / (groups * hv);
    let bytes = (groups + 1) * head_dim * elem_bytes + groups * head_dim * 4 + groups * slots * 4 + groups * 4 + streams * groups * head_dim * 4;
    bytes <= SHARED_BYTES
}

/// `--split-from`'s default: a cache of up to this many slots keeps one cube per KV head when it
/// fits. 256 splits the long prompt's 768-slot cache, and the short and medium prompts' 256-slot
/// ones stay on one cube: through the harness on one H100 (2026-12-08, interleaved pairs) the long
/// prompt decoded 1.167× (1.140–1.198×) as fast as with 1,024, its 128 tokens identical to
/// llama.cpp's (README, "Attention over all multiprocessors").
pub const SPLIT_FROM: usize = 256;
/// Cubes per multiprocessor a split plan aims at (two of 512 threads: half an H100/H200 SM's
/// threads), so that every multiprocessor streams the cache.
const CUBES_PER_MULTIPROCESSOR: usize = 2;
/// Positions per chunk where the device does not say how many multiprocessors it has (wgpu).
const CHUNK_WITHOUT_DEVICE_FACTS: usize = 512;
/// The combine launch's threads per cube, one per element of a KV head's query heads: CUDA's and
/// Vulkan's usual limit.
const COMBINE_THREADS: usize = 1024;

/// How a decoder's steps lay the attention out over cubes: `splits` cubes per KV head, each with
/// shared memory for `chunk_slots` positions' scores per query head. One split is the single-cube
/// kernel over the whole cache (`chunk_slots` = the capacity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionPlan {
    pub splits: usize,
    pub chunk_slots: usize,
}

impl AttentionPlan {
    /// The most positions any of `splits` chunks of a `capacity`-slot cache holds (see the module
    /// docs: `ceil(len / active)` with `active` cubes working).
    pub fn chunk_slots(capacity: usize, splits: usize) -> usize {
        if splits == 1 { capacity } else { capacity.div_ceil(splits).max(MIN_CHUNK) }
    }

    /// The plan for a cache of `capacity` slots, or `None` where the kernel cannot take it: one cube
    /// per KV head without a `split_from` (no `split`), or for a cache of at most `split_from` slots
    /// that fits (at 0, none); else enough cubes per head for `CUBES_PER_MULTIPROCESSOR` on each of the
    /// device's `multiprocessors`, more where a chunk would not fit shared memory, never more than
    /// chunks of `MIN_CHUNK` positions.
    pub fn choose(split_from: Option<usize>, groups: usize, kv_heads: usize, head_dim: usize, capacity: usize, elem_bytes: usize, multiprocessors: Option<u32>) -> Option<Self> {
        let single = fits(groups, head_dim, capacity, elem_bytes).then_some(Self { splits: 1, chunk_slots: capacity });
        let splittable = fits(groups, head_dim, MIN_CHUNK, elem_bytes) && groups * head_dim <= COMBINE_THREADS;
        let split = split_from.is_some_and(|from| capacity > from || single.is_none());
        if !split || !splittable {
            return single;
        }
        let most = capacity.div_ceil(MIN_CHUNK).max(2);
        let wanted = match multiprocessors {
            Some(count) => (CUBES_PER_MULTIPROCESSOR * count as usize).div_ceil(kv_heads),
            None => capacity.div_ceil(CHUNK_WITHOUT_DEVICE_FACTS),
        };
        let mut splits = wanted.clamp(2, most);
        while !fits(groups, head_dim, Self::chunk_slots(capacity, splits), elem_bytes) {
            splits = (splits * 2).min(most);
        }
        Some(Self { splits, chunk_slots: Self::chunk_slots(capacity, splits) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Below any score, as in the kernel.
    const LOWEST: f32 = -3.0e38;

    #[test]
    fn qwen3_0_6b_caches_fit_up_to_about_four_thousand_slots() {
        // f16, 2 query heads per KV head of 128 (16 vectors of 8): 768 + 1,024 bytes of heads,
        // 8 bytes a slot of scores, 8 of sums, 16 streams x 2 heads x 128 f32 partial sums.
        assert!(fits(2, 128, 3840, 2));
        assert!(!fits(2, 128, 4096, 2));
        assert!(fits(2, 128, 2048, 4), "f32: 32 vectors of 4 a head, 8 streams");
        assert!(!fits(16, 128, 256, 2), "18 planes needed, 16 launched");
    }

    #[test]
    fn plans_split_long_caches_over_the_multiprocessors() {
        let plan = |split_from, capacity, sms| AttentionPlan::choose(split_from, 2, 8, 128, capacity, 2, sms);
        let one = |capacity| Some(AttentionPlan { splits: 1, chunk_slots: capacity });
        let split = Some(SPLIT_FROM);
        // Without `split`: one cube per KV head where the cache fits, else none (Burn's ops).
        assert_eq!(plan(None, 256, Some(132)), one(256));
        assert_eq!(plan(None, 4352, Some(132)), None);
        // With it: short caches keep one cube; long ones 2 cubes on each of 132 SMs over 8 heads.
        assert_eq!(plan(split, 256, Some(132)), one(256));
        assert_eq!(plan(split, 1024, Some(132)), Some(AttentionPlan { splits: 16, chunk_slots: 64 }));
        assert_eq!(plan(split, 4352, Some(132)), Some(AttentionPlan { splits: 33, chunk_slots: 132 }));
        assert_eq!(plan(split, 16_640, Some(132)), Some(AttentionPlan { splits: 33, chunk_slots: 505 }));
        // The model's whole window fits (the single cube stops at 3,840 slots in f16).
        assert_eq!(plan(split, 40_960, Some(132)), Some(AttentionPlan { splits: 33, chunk_slots: 1242 }));
        // A device that does not say: chunks of 512; never more splits than chunks of MIN_CHUNK.
        assert_eq!(plan(split, 4352, None), Some(AttentionPlan { splits: 9, chunk_slots: 484 }));
        assert_eq!(plan(split, 1280, Some(1000)), Some(AttentionPlan { splits: 20, chunk_slots: 64 }));
        // Few multiprocessors and a long cache: more splits until a chunk fits shared memory.
        let few = plan(split, 40_960, Some(4)).unwrap();
        assert!(few.splits > 2 && fits(2, 128, few.chunk_slots, 2), "{few:?}");
        // A layout the kernel cannot take is refused either way.
        assert_eq!(AttentionPlan::choose(split, 16, 1, 128, 16_640, 2, Some(132)), None);
    }

    #[test]
    fn split_from_moves_where_caches_start_to_split() {
        let plan = |split_from, capacity| AttentionPlan::choose(Some(split_from), 2, 8, 128, capacity, 2, Some(132));
        let one = |capacity| Some(AttentionPlan { splits: 1, chunk_slots: capacity });
        // The long prompt's 768 slots (529 + 128 tokens): one cube from `split_from` 768 up, split
        // below (the default too), in as many chunks of MIN_CHUNK as it holds (12), fewer than the
        // 33 the SMs would take.
        assert_eq!(plan(SPLIT_FROM, 768), Some(AttentionPlan { splits: 12, chunk_slots: 64 }));
        assert_eq!(plan(1024, 768), one(768));
        assert_eq!(plan(256, 768), Some(AttentionPlan { splits: 12, chunk_slots: 64 }));
        assert_eq!(plan(767, 768), Some(AttentionPlan { splits: 12, chunk_slots: 64 }));
        assert_eq!(plan(768, 768), one(768));
        assert_eq!(plan(256, 256), one(256));
        // 0: every cache splits, a short one into chunks of MIN_CHUNK slots (two at the fewest).
        assert_eq!(plan(0, 256), Some(AttentionPlan { splits: 4, chunk_slots: 64 }));
        assert_eq!(plan(0, 100), Some(AttentionPlan { splits: 2, chunk_slots: 64 }));
        // A cache the single cube cannot hold splits whatever the threshold.
        assert_eq!(plan(usize::MAX, 4352), Some(AttentionPlan { splits: 33, chunk_slots: 132 }));
    }

    /// The split walk on the host, as the kernels index it: the positions `start..end` of split
    /// `split` when `len` are visible, and whether it holds the step's slot; `None` for a cube
    /// that leaves at once.
    fn chunk(len: usize, splits: usize, split: usize) -> Option<(usize, usize, bool)> {
        let active = len.div_ceil(MIN_CHUNK).min(splits);
        if split >= active {
            return None;
        }
        let chunk = len.div_ceil(active);
        let start = (split * chunk).min(len);
        Some((start, (start + chunk).min(len), split == (len - 1) / chunk))
    }

    #[test]
    fn chunks_cover_every_visible_position_once_within_their_slots() {
        for (capacity, splits) in [(4352, 33), (16_640, 33), (40_960, 33), (1280, 20), (2000, 3)] {
            let slots = AttentionPlan::chunk_slots(capacity, splits);
            for len in (1..=capacity).step_by(7).chain([capacity]) {
                let mut next = 0;
                let mut owners = 0;
                for split in 0..splits {
                    let Some((start, end, owner)) = chunk(len, splits, split) else { continue };
                    assert_eq!(start, next.min(len), "capacity {capacity} len {len} split {split}");
                    assert!(end - start <= slots, "capacity {capacity} len {len}: {} > {slots}", end - start);
                    owners += usize::from(owner);
                    assert!(!owner || (start..end).contains(&(len - 1)));
                    next = end;
                }
                assert_eq!((next, owners), (len, 1), "capacity {capacity} len {len}");
            }
        }
    }

    /// Softmax-weighted values of one query head over `scores`/`values`, as the single cube computes
    /// them (f32) and as the split plan does: each chunk's maximum, sum and unnormalised values,
    /// then the log-sum-exp combine of the combine kernel.
    fn attend_single(scores: &[f32], values: &[f32]) -> f32 {
        let top = scores.iter().fold(LOWEST, |m, &s| m.max(s));
        let weights: Vec<f32> = scores.iter().map(|s| (s - top).exp()).collect();
        let sum: f32 = weights.iter().sum();
        weights.iter().zip(values).map(|(w, v)| w * v).sum::<f32>() * sum.recip()
    }

    fn attend_split(scores: &[f32], values: &[f32], splits: usize) -> f32 {
        let len = scores.len();
        let parts: Vec<(f32, f32, f32)> = (0..splits)
            .filter_map(|split| chunk(len, splits, split))
            .map(|(start, end, _)| {
                let top = scores[start..end].iter().fold(LOWEST, |m, &s| m.max(s));
                let weights: Vec<f32> = scores[start..end].iter().map(|s| (s - top).exp()).collect();
                (top, weights.iter().sum(), weights.iter().zip(&values[start..end]).map(|(w, v)| w * v).sum())
            })
            .collect();
        let top = parts.iter().fold(LOWEST, |m, p| m.max(p.0));
        let (sum, acc) = parts.iter().fold((0.0f32, 0.0f32), |(sum, acc), &(m, l, a)| {
            let weight = (m - top).exp();
            (sum + l * weight, acc + a * weight)
        });
        acc * sum.recip()
    }

    #[test]
    fn log_sum_exp_combine_equals_one_softmax_up_to_f32_sums() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 20_001) as f32 / 1000.0 - 10.0
        };
        for len in [1, 2, 63, 64, 65, 200, 1000, 4097, 16_384] {
            let scores: Vec<f32> = (0..len).map(|_| random()).collect();
            let values: Vec<f32> = (0..len).map(|_| random()).collect();
            // The exact value, in f64.
            let top = scores.iter().fold(f64::MIN, |m, &s| m.max(s as f64));
            let weights: Vec<f64> = scores.iter().map(|&s| (s as f64 - top).exp()).collect();
            let exact = weights.iter().zip(&values).map(|(w, &v)| w * v as f64).sum::<f64>() / weights.iter().sum::<f64>();
            let single = attend_single(&scores, &values) as f64;
            for splits in [2, 3, 33, 160] {
                let split = attend_split(&scores, &values, splits) as f64;
                let scale = exact.abs().max(1.0);
                assert!((split - exact).abs() / scale < 1e-5, "len {len} splits {splits}: {split} vs {exact}");
                assert!((split - single).abs() / scale < 1e-5, "len {len} splits {splits}: {split} vs single {single}");
            }
        }
        // One chunk: the combine weighs it by exp(0) = 1 and divides by its own sum, as one cube does.
        assert_eq!(attend_split(&[0.5, -1.0, 2.0], &[1.0, 2.0, 3.0], 33), attend_single(&[0.5, -1.0, 2.0], &[1.0, 2.0, 3.0]));
    }
}
