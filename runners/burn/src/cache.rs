//! Preallocated key/value cache: one `[1, kv_heads, capacity, head_dim]` buffer per layer for
//! keys and one for values, written in place, plus the slot indices `0..capacity` the decode
//! mask compares a position with. A cache is reused from request to request: a prefill rewrites
//! every slot (the prompt's, then zeros), each decode step adds its key and value to the zeroed
//! slot of its position, and attention never reads a slot past the current position.

use burn::tensor::{DType, Device, IndexingUpdateOp, Int, Tensor};

struct LayerCache {
    keys: Tensor<4>,
    values: Tensor<4>,
}

pub struct KvCache {
    /// `None` only transiently, while a layer's buffers are moved into an in-place write.
    layers: Vec<Option<LayerCache>>,
    capacity: usize,
    /// `0..capacity`, `[capacity]`.
    slots: Tensor<1, Int>,
}

impl KvCache {
    pub fn new(num_layers: usize, kv_heads: usize, head_dim: usize, capacity: usize, device: &Device, dtype: DType) -> Self {
        let shape = [1, kv_heads, capacity, head_dim];
        let layers = (0..num_layers)
            .map(|_| Some(LayerCache { keys: Tensor::zeros(shape, (device, dtype)), values: Tensor::zeros(shape, (device, dtype)) }))
            .collect();
        let slots = Tensor::arange(0..capacity as i64, (device, DType::I32));
        Self { layers, capacity, slots }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn slots(&self) -> Tensor<1, Int> {
        self.slots.clone()
    }

    /// Prefill: writes `keys`/`values` (`[1, kv_heads, L, head_dim]`) of `layer` to slots `0..L`,
    /// zeros to the rest, and returns slots `0..L`.
    pub fn write_prefix(&mut self, layer: usize, keys: Tensor<4>, values: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let [_, kv_heads, len, head_dim] = keys.dims();
        assert!(len <= self.capacity, "KV cache overflow: {len} > {}", self.capacity);
        let range = [0..1, 0..kv_heads, 0..self.capacity, 0..head_dim];
        let padded = |prefix: Tensor<4>| match self.capacity - len {
            0 => prefix,
            rest => {
                let zeros = Tensor::zeros([1, kv_heads, rest, head_dim], (&prefix.device(), prefix.dtype()));
                Tensor::cat(vec![prefix, zeros], 2)
            }
        };
        let (keys, values) = (padded(keys), padded(values));
        let cache = self.update(layer, |cache| LayerCache {
            keys: cache.keys.slice_assign(range.clone(), keys),
            values: cache.values.slice_assign(range, values),
        });
        (cache.keys.clone().narrow(2, 0, len), cache.values.clone().narrow(2, 0, len))
    }

    /// Decode step: writes one position (`positions`, a device tensor `[1]`) of `layer` and
    /// returns the whole buffers `[1, kv_heads, capacity, head_dim]`. The write index is data,
    /// not a shape or a constant, so every decode step runs the same kernels on the same
    /// buffers; the caller masks slots past the current position. Burn 0.22.0-pre.3 implements
    /// only `Add` for float `select_assign`: the prefill zeroed the slot, so adding is assigning
    /// (x + 0 = x exactly).
    pub fn write_at(&mut self, layer: usize, positions: Tensor<1, Int>, keys: Tensor<4>, values: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let cache = self.update(layer, |cache| LayerCache {
            keys: cache.keys.select_assign(2, positions.clone(), keys, IndexingUpdateOp::Add),
            values: cache.values.select_assign(2, positions, values, IndexingUpdateOp::Add),
        });
        (cache.keys.clone(), cache.values.clone())
    }

    /// Hands the layer's buffers, uniquely held, to `write`: the backend then writes them in place
    /// (CubeCL copies a buffer that another handle still shares), which keeps the addresses a
    /// captured decode graph replays against. Returns the written buffers.
    fn update(&mut self, layer: usize, write: impl FnOnce(LayerCache) -> LayerCache) -> &LayerCache {
        let cache = self.layers[layer].take().expect("layer cache present");
        self.layers[layer].insert(write(cache))
    }
}
