//! The key/value cache (mlx-lm's `models/cache.py`): one preallocated `[1, kv_heads, capacity,
//! head_dim]` buffer per layer for keys and one for values, written in place, and the attention
//! mask of each forward pass. A cache is reused from request to request: a prefill rewrites every
//! slot (the prompt's, then zeros; a long prompt's first chunk writes the zeros, see
//! [`Offset::Chunk`]), each decode step adds its key and value to the zeroed slot of its
//! position, and attention never sees a slot past the current position.

use crate::config::Qwen3Config;
use crate::sdpa::AttentionKernel;
use burn::tensor::{Bool, DType, Device, IndexingUpdateOp, Int, Tensor};

/// Where a forward pass writes its keys and values (mlx-lm's `cache.offset`).
#[derive(Clone)]
pub enum Offset {
    /// A prompt from position 0 (prefill): it writes slots `0..L` and attends to them; shapes
    /// follow its length.
    Prompt,
    /// A chunk of a long prompt (src/model.rs, `Model::prefill`) starting at position `start`: it
    /// writes slots `start..start + L` (the first chunk, at 0, also zeros every slot after it)
    /// and attends to the whole cache under a mask, so every full chunk has the same shapes
    /// whatever its start, and its scores are `L × capacity`, never `prompt × prompt`. `attention`:
    /// how the chunk attends (`--chunk-attention`; src/sdpa/mod.rs).
    Chunk { start: usize, attention: AttentionKernel },
    /// One token at the position held in a device tensor `[1]` (decode): it writes that slot and
    /// attends to the whole cache under a mask. The position is data, not a shape or a constant,
    /// so every decode step runs the same kernels on the same buffers (what a captured graph
    /// replays).
    At(Tensor<1, Int>),
}

/// Which keys each query of a forward pass may see (mlx-lm's `make_mask`).
pub enum AttentionMask {
    /// All of them: one query over a one-token prompt.
    None,
    /// A prompt of L > 1 tokens from position 0: query i sees keys `0..=i`.
    Causal,
    /// One decode query against the whole cache: `[1, kv_heads, groups, capacity]` (the grouped
    /// scores' shape, expanded once per step rather than once per layer), true for the slots
    /// after its position.
    Future(Tensor<4, Bool>),
    /// A prompt chunk of L queries from `start` against the whole cache: `[1, 1, L, capacity]`,
    /// true where slot > start + query row (the future, and the zeroed slots past the prompt).
    Prefix(Tensor<4, Bool>),
}

pub struct KvCache {
    layers: Vec<LayerCache>,
    /// The decode mask is shaped for grouped queries: `kv_heads` of `groups` query heads each.
    kv_heads: usize,
    groups: usize,
    /// `0..capacity`, `[capacity]`: what the decode mask compares the position with.
    slots: Tensor<1, Int>,
}

impl KvCache {
    pub fn new(config: &Qwen3Config, capacity: usize, device: &Device, dtype: DType) -> Self {
        let shape = [1, config.num_key_value_heads, capacity, config.head_dim];
        let layers = (0..config.num_hidden_layers).map(|_| LayerCache::zeros(shape, device, dtype)).collect();
        let slots = Tensor::arange(0..capacity as i64, (device, DType::I32));
        Self { layers, kv_heads: config.num_key_value_heads, groups: config.kv_groups(), slots }
    }

    pub fn capacity(&self) -> usize {
        self.slots.dims()[0]
    }

    /// One cache per layer, in layer order.
    pub fn layers(&mut self) -> &mut [LayerCache] {
        &mut self.layers
    }

    /// The mask of a forward pass of `len` tokens at `offset`.
    pub fn make_mask(&self, len: usize, offset: &Offset) -> AttentionMask {
        match offset {
            Offset::Prompt if len == 1 => AttentionMask::None,
            Offset::Prompt => AttentionMask::Causal,
            Offset::Chunk { start, .. } => {
                // Query row i sits at position start + i: it may not see slot s > start + i, that
                // is s - i > start, with `s - i` from one flat index: no broadcast view (the
                // explicit decode step, whose mask is one, decodes wrongly on CUDA for a cause not
                // yet found; README, "Known problems").
                let capacity = self.capacity();
                let flat = Tensor::<1, Int>::arange(0..(len * capacity) as i64, (&self.slots.device(), DType::I32));
                let slot_minus_row = flat.clone().remainder_scalar(capacity as i64) - flat.div_scalar(capacity as i64);
                AttentionMask::Prefix(slot_minus_row.greater_elem(*start as i64).reshape([1, 1, len, capacity]))
            }
            Offset::At(position) => {
                let capacity = self.capacity();
                let future = self
                    .slots
                    .clone()
                    .greater(position.clone().expand([capacity]))
                    .reshape([1, 1, 1, capacity])
                    .expand([1, self.kv_heads, self.groups, capacity]);
                AttentionMask::Future(future)
            }
        }
    }
}

struct KeysValues {
    keys: Tensor<4>,
    values: Tensor<4>,
}

/// One layer's keys and values.
pub struct LayerCache {
    /// `None` only transiently, while the buffers are moved into an in-place write.
    buffers: Option<KeysValues>,
}

impl LayerCache {
    fn zeros(shape: [usize; 4], device: &Device, dtype: DType) -> Self {
        let zeros = || Tensor::zeros(shape, (device, dtype));
        Self { buffers: Some(KeysValues { keys: zeros(), values: zeros() }) }
    }

    /// Writes a pass's `keys`/`values` (`[1, kv_heads, L, head_dim]`) at `offset` and returns the
    /// keys and values its queries attend to.
    pub fn update_and_fetch(&mut self, keys: Tensor<4>, values: Tensor<4>, offset: &Offset) -> (Tensor<4>, Tensor<4>) {
        match offset {
            Offset::Prompt => self.write_prompt(keys, values),
            Offset::Chunk { start, .. } => self.write_chunk(*start, keys, values),
            Offset::At(position) => self.write_at(position.clone(), keys, values),
        }
    }

    /// Prefill: writes slots `0..L`, zeros to the rest, and returns slots `0..L`.
    fn write_prompt(&mut self, keys: Tensor<4>, values: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let len = keys.dims()[2];
        let written = self.write_slots(0, keys, values);
        (written.keys.clone().narrow(2, 0, len), written.values.clone().narrow(2, 0, len))
    }

    /// A long prompt's chunk at `start`: writes slots `start..start + L` (the first chunk also
    /// zeros the rest, as a prompt does) and returns the whole buffers; the chunk's mask hides the
    /// slots past each query's position.
    fn write_chunk(&mut self, start: usize, keys: Tensor<4>, values: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let written = self.write_slots(start, keys, values);
        (written.keys.clone(), written.values.clone())
    }

    /// Writes `keys`/`values` (`[1, kv_heads, L, head_dim]`) to slots `start..start + L`; from
    /// position 0 it also writes zeros to every slot after them, so that a decode step's write
    /// (an add, see [`LayerCache::write_at`]) lands on a zeroed slot.
    fn write_slots(&mut self, start: usize, keys: Tensor<4>, values: Tensor<4>) -> &KeysValues {
        let [_, kv_heads, len, head_dim] = keys.dims();
        let capacity = self.buffers.as_ref().expect("layer cache present").keys.dims()[2];
        assert!(start + len <= capacity, "KV cache overflow: {} > {capacity}", start + len);
        let end = if start == 0 { capacity } else { start + len };
        let range = [0..1, 0..kv_heads, start..end, 0..head_dim];
        let padded = |written: Tensor<4>| match end - start - len {
            0 => written,
            rest => {
                let zeros = Tensor::zeros([1, kv_heads, rest, head_dim], (&written.device(), written.dtype()));
                Tensor::cat(vec![written, zeros], 2)
            }
        };
        let (keys, values) = (padded(keys), padded(values));
        self.update(|cache| KeysValues {
            keys: cache.keys.slice_assign(range.clone(), keys),
            values: cache.values.slice_assign(range, values),
        })
    }

    /// Decode step: writes the slot of `position` (`[1]`) and returns the whole buffers
    /// `[1, kv_heads, capacity, head_dim]`; the mask hides the slots past the position. Burn
    /// 0.22.0-pre.3 implements only `Add` for float `select_assign`: the prefill zeroed the slot,
    /// so adding is assigning (x + 0 = x exactly).
    fn write_at(&mut self, position: Tensor<1, Int>, keys: Tensor<4>, values: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let written = self.update(|cache| KeysValues {
            keys: cache.keys.select_assign(2, position.clone(), keys, IndexingUpdateOp::Add),
            values: cache.values.select_assign(2, position, values, IndexingUpdateOp::Add),
        });
        (written.keys.clone(), written.values.clone())
    }

    /// Hands the key and value buffers, uniquely held, to `write` (a kernel that writes them in
    /// place and returns them with its own output) and keeps what it returns.
    pub fn write_with<T>(&mut self, write: impl FnOnce(Tensor<4>, Tensor<4>) -> (T, Tensor<4>, Tensor<4>)) -> T {
        let KeysValues { keys, values } = self.buffers.take().expect("layer cache present");
        let (output, keys, values) = write(keys, values);
        self.buffers = Some(KeysValues { keys, values });
        output
    }

    /// Hands the buffers, uniquely held, to `write`: the backend then writes them in place
    /// (CubeCL copies a buffer that another handle still shares), which keeps the addresses a
    /// captured decode graph replays against. Returns the written buffers.
    fn update(&mut self, write: impl FnOnce(KeysValues) -> KeysValues) -> &KeysValues {
        let buffers = self.buffers.take().expect("layer cache present");
        self.buffers.insert(write(buffers))
    }
}
