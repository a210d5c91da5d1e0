use crate::cache::AttentionMask;
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Tensor, TensorData};

/// matmul, softmax, matmul, with the query heads that share a KV head stacked along the sequence
/// axis (`[1, kv_heads, groups * L, head_dim]`), so K and V are never repeated.
pub fn attend(queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, mask: &AttentionMask) -> Tensor<4> {
    let [batch, heads, len, hd] = queries.dims();
    let scores = masked(scores(queries, keys), mask, len);
    softmax(scores, 3).matmul(values).reshape([batch, heads, len, hd])
}

/// The scaled scores of `queries` `[1, heads, L, head_dim]` against `keys` `[1, kv_heads, S,
/// head_dim]`, the query heads of each KV head stacked: `[1, kv_heads, groups * L, S]`.
pub fn scores(queries: Tensor<4>, keys: Tensor<4>) -> Tensor<4> {
    let [batch, heads, len, hd] = queries.dims();
    let kv_heads = keys.dims()[1];
    let queries = queries.reshape([batch, kv_heads, heads / kv_heads * len, hd]);
    queries.matmul(keys.swap_dims(2, 3)).mul_scalar(1.0 / (hd as f64).sqrt())
}

/// [`scores`] of `len` queries a head with the slots `mask` hides at −∞.
pub fn masked(scores: Tensor<4>, mask: &AttentionMask, len: usize) -> Tensor<4> {
    let [batch, kv_heads, rows, slots] = scores.dims();
    let groups = rows / len;
    match mask {
        AttentionMask::None => scores,
        AttentionMask::Causal => {
            let causal = causal_mask(groups, len, &scores.device());
            scores.mask_fill(causal.unsqueeze::<4>(), f32::NEG_INFINITY)
        }
        AttentionMask::Future(future) => scores.mask_fill(future.clone(), f32::NEG_INFINITY),
        // One `[1, 1, L, S]` mask broadcast over the stacked groups: scores as `[kv_heads, groups, L, S]`
        // (batch 1).
        AttentionMask::Prefix(prefix) => scores
            .reshape([kv_heads, groups, len, slots])
            .mask_fill(prefix.clone(), f32::NEG_INFINITY)
            .reshape([batch, kv_heads, rows, slots]),
    }
}

/// `true` where query row (stacked `groups` times) may not see key column: column > row.
fn causal_mask(groups: usize, len: usize, device: &Device) -> Tensor<2, Bool> {
    let mask: Vec<bool> = (0..groups * len).flat_map(|row| (0..len).map(move |col| col > row % len)).collect();
    Tensor::from_data(TensorData::new(mask, [groups * len, len]), device)
}

#[cfg(all(test, feature = "cpu"))]
mod tests {
    use super::*;

    #[test]
    fn causal_mask_stacks_groups() {
        // 2 groups x 3 positions: row r sees columns <= r % 3.
        let mask = causal_mask(2, 3, &Device::flex());
        let rows: Vec<bool> = mask.into_data().iter::<bool>().collect();
        let want = [false, true, true, false, false, true, false, false, false];
        assert_eq!(rows, [want, want].concat());
    }
}
