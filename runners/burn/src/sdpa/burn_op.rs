use crate::cache::AttentionMask;
use burn::tensor::{Bool, Tensor};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

/// `burn::tensor::module::attention`. One query row per head (a decode step, a one-token prompt)
/// keeps the grouped layout, query heads per KV head along the sequence axis; a longer prompt
/// repeats K and V to every query head and uses the op's causal flag.
pub fn attend(queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, mask: &AttentionMask) -> Tensor<4> {
    match mask {
        AttentionMask::None => grouped(queries, keys, values, None),
        AttentionMask::Future(future) => grouped(queries, keys, values, Some(future.clone())),
        AttentionMask::Causal => causal(queries, keys, values),
        AttentionMask::Prefix(_) => unreachable!("a prompt chunk attends with the explicit form (src/sdpa/mod.rs)"),
    }
}

fn grouped(queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, mask: Option<Tensor<4, Bool>>) -> Tensor<4> {
    let [batch, heads, _, hd] = queries.dims();
    let kv_heads = keys.dims()[1];
    let queries = queries.reshape([batch, kv_heads, heads / kv_heads, hd]);
    attention(queries, keys, values, mask, None, AttentionModuleOptions::default()).reshape([batch, heads, 1, hd])
}

/// Burn's causal flag masks column > row: right because a prompt starts at position 0.
fn causal(queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>) -> Tensor<4> {
    let [batch, heads, _, hd] = queries.dims();
    let [_, kv_heads, total, _] = keys.dims();
    let repeat = |t: Tensor<4>| {
        t.unsqueeze_dim::<5>(2)
            .expand([batch, kv_heads, heads / kv_heads, total, hd])
            .reshape([batch, heads, total, hd])
    };
    let options = AttentionModuleOptions { is_causal: true, ..Default::default() };
    attention(queries, repeat(keys), repeat(values), None, None, options)
}
