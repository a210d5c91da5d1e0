//! Preallocated key/value cache: one `[1, kv_heads, capacity, head_dim]` buffer per layer for
//! keys and one for values, written in place at the current offset.

use burn::tensor::{DType, IndexingUpdateOp, Int, Tensor, backend::Backend};

struct LayerCache<B: Backend> {
    keys: Tensor<B, 4>,
    values: Tensor<B, 4>,
}

pub struct KvCache<B: Backend> {
    /// `None` only transiently, while a layer's buffers are moved into `slice_assign`.
    layers: Vec<Option<LayerCache<B>>>,
    capacity: usize,
    /// Number of positions already written (the RoPE offset of the next token).
    offset: usize,
}

impl<B: Backend> KvCache<B> {
    /// A fresh cache for `capacity` positions (prompt length + new tokens).
    pub fn new(num_layers: usize, kv_heads: usize, head_dim: usize, capacity: usize, device: &B::Device, dtype: DType) -> Self {
        let shape = [1, kv_heads, capacity, head_dim];
        let layers = (0..num_layers)
            .map(|_| {
                Some(LayerCache {
                    keys: Tensor::zeros(shape, (device, dtype)),
                    values: Tensor::zeros(shape, (device, dtype)),
                })
            })
            .collect();
        Self { layers, capacity, offset: 0 }
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Writes `keys`/`values` (`[1, kv_heads, L, head_dim]`) of `layer` at the current offset and
    /// returns everything cached so far for that layer, `[1, kv_heads, offset + L, head_dim]`.
    pub fn update_and_fetch(&mut self, layer: usize, keys: Tensor<B, 4>, values: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let [_, kv_heads, new_len, head_dim] = keys.dims();
        let end = self.offset + new_len;
        assert!(end <= self.capacity, "KV cache overflow: {end} > {}", self.capacity);
        let cache = self.layers[layer].take().expect("layer cache present");
        let range = [0..1, 0..kv_heads, self.offset..end, 0..head_dim];
        let cache = LayerCache {
            keys: cache.keys.slice_assign(range.clone(), keys),
            values: cache.values.slice_assign(range, values),
        };
        let fetched = (cache.keys.clone().narrow(2, 0, end), cache.values.clone().narrow(2, 0, end));
        self.layers[layer] = Some(cache);
        fetched
    }

    /// Decode step: writes one position (`positions`, a device tensor `[1]`) of `layer` and
    /// returns the whole buffers `[1, kv_heads, capacity, head_dim]`. The write index is data,
    /// not a shape or a constant, so every decode step runs the same kernels (no recompiles on
    /// JIT backends); the caller masks positions past the current one.
    pub fn write_and_fetch_all(&mut self, layer: usize, positions: Tensor<B, 1, Int>, keys: Tensor<B, 4>, values: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        assert!(self.offset < self.capacity, "KV cache overflow: {} >= {}", self.offset, self.capacity);
        let cache = self.layers[layer].take().expect("layer cache present");
        // Burn 0.21 implements only `Add` for float select_assign; the buffers start zeroed and
        // each slot is written once per request, so adding is assigning (x + 0 = x exactly).
        let cache = LayerCache {
            keys: cache.keys.select_assign(2, positions.clone(), keys, IndexingUpdateOp::Add),
            values: cache.values.select_assign(2, positions, values, IndexingUpdateOp::Add),
        };
        let fetched = (cache.keys.clone(), cache.values.clone());
        self.layers[layer] = Some(cache);
        fetched
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Called once per forward pass, after every layer has written its `new_len` positions.
    pub fn advance(&mut self, new_len: usize) {
        self.offset += new_len;
    }
}
