use crate::cache::AttentionMask;
use burn::tensor::{Bool, Tensor};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

/// `burn::tensor::module::attention`. One query row per head (a decode step, a one-token prompt)
/// and a long prompt's chunk keep the grouped layout, query heads per KV head along the sequence
/// axis; a longer prompt from position 0 repeats K and V to every query head and uses the op's
/// causal flag.
pub fn attend(queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, mask: &AttentionMask) -> Tensor<4> {
    match mask {
        AttentionMask::None => grouped(queries, keys, values, None),
        AttentionMask::Future(future) => grouped(queries, keys, values, Some(future.clone())),
        AttentionMask::Causal => causal(queries, keys, values),
        AttentionMask::Prefix(prefix) => chunk(queries, keys, values, prefix),
    }
}

/// A long prompt's chunk of L queries against the whole cache: the op's causal flag masks column
/// > row from position 0, so the chunk's offset mask `[1, 1, L, slots]` goes in as a tensor,
/// materialised for the grouped rows (`[1, kv_heads, groups·L, slots]`, row `g·L + i` under row
/// i's mask).
fn chunk(queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, prefix: &Tensor<4, Bool>) -> Tensor<4> {
    let [batch, heads, len, _] = queries.dims();
    let [_, kv_heads, slots, _] = keys.dims();
    let groups = heads / kv_heads;
    let mask = prefix.clone().unsqueeze_dim::<5>(1).expand([batch, kv_heads, groups, len, slots]).reshape([batch, kv_heads, groups * len, slots]);
    grouped(queries, keys, values, Some(mask))
}

/// The query heads of each KV head stacked along the sequence axis (`[1, kv_heads, groups·L,
/// head_dim]`), so K and V go in as they are.
fn grouped(queries: Tensor<4>, keys: Tensor<4>, values: Tensor<4>, mask: Option<Tensor<4, Bool>>) -> Tensor<4> {
    let [batch, heads, len, hd] = queries.dims();
    let kv_heads = keys.dims()[1];
    let queries = queries.reshape([batch, kv_heads, heads / kv_heads * len, hd]);
    attention(queries, keys, values, mask, None, AttentionModuleOptions::default()).reshape([batch, heads, len, hd])
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
