//! Scaled dot-product attention, `softmax(q·kᵀ / √head_dim + mask) · v`: the part of attention
//! between the projections (mlx-lm's `scaled_dot_product_attention`), computed one of two ways
//! (`--attention`). Both give the same greedy tokens; speed differs per backend.

mod burn_op;
pub mod explicit;

use crate::cache::AttentionMask;
use burn::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionKernel {
    /// `burn::tensor::module::attention` (a fused/flash kernel where the backend has one).
    Burn,
    /// matmul, softmax, matmul written out, with query heads grouped per KV head.
    Explicit,
}

impl AttentionKernel {
    /// The `--attention` value that picks it.
    pub fn name(self) -> &'static str {
        match self {
            AttentionKernel::Burn => "burn",
            AttentionKernel::Explicit => "explicit",
        }
    }

    /// `queries` `[1, heads, L, head_dim]` against `keys` and `values` `[1, kv_heads, S,
    /// head_dim]` (heads a multiple of kv_heads) under `mask`; returns `[1, heads, L, head_dim]`.
    pub fn attend(self, queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, mask: &AttentionMask) -> Tensor<4> {
        match self {
            AttentionKernel::Burn => burn_op::attend(queries, keys, values, mask),
            AttentionKernel::Explicit => explicit::attend(queries, keys, values, mask),
        }
    }
}
