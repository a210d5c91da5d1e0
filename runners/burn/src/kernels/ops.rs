//! The kernels as the model calls them: Burn tensors in and out, through the backend extension
//! (`extension.rs`) on whichever CubeCL backend the device runs.

use super::decode_attention::{AttentionParams, StepAttention};
use super::extension::DecodeKernels;
use super::gemv::{Extra, Fused, Gemv, Layout};
use super::launch::DeviceFacts;
use super::{AttentionPlan, AttentionStep, Third};
use burn::backend::Dispatch;
use burn::tensor::{DType, Device, Tensor};

/// `x` `[1, 1, in]` times `rows` `[out, in]` on [`super::gemv::gemv_rows_kernel`], one launch,
/// with `third` folded in; with `glu`, `rows` are gate/up pairs ([`super::pair_rows_of`], or
/// [`super::pair_rows`] with `--kernels rows`) and the output `silu(gate) * up`, `[1, 1, out / 2]`.
pub fn gemv(x: Tensor<3>, rows: &Tensor<2>, third: Third<'_>, glu: bool) -> Tensor<3> {
    let (extra, norm_eps) = match third {
        Third::Neither => (Extra::Neither, None),
        Third::Residual(residual) => (Extra::Residual(residual.into_dispatch()), None),
        Third::Norm(weight, eps) => (Extra::NormWeight(weight.clone().into_dispatch()), Some(eps as f32)),
    };
    launch_gemv(x, rows, extra, Fused { glu, norm_eps, layout: None })
}

/// `x · rowsᵀ` in a given launch layout (`--bench-kernels` compares them).
pub fn gemv_laid_out(x: Tensor<3>, rows: &Tensor<2>, layout: Layout) -> Tensor<3> {
    launch_gemv(x, rows, Extra::Neither, Fused { layout: Some(layout), ..Default::default() })
}

fn launch_gemv(x: Tensor<3>, rows: &Tensor<2>, extra: Extra<Dispatch>, fused: Fused) -> Tensor<3> {
    let inputs = Gemv { x: x.into_dispatch(), w_rows: rows.clone().into_dispatch(), extra };
    Tensor::from_dispatch(Dispatch::gemv_rows(inputs, fused))
}

/// RMSNorm of `x` over its last axis on [`super::rms_norm::rms_norm_rows_kernel`]; `weight`
/// `[w_rows, width]`.
pub fn rms_norm<const D: usize>(x: Tensor<D>, weight: &Tensor<2>, eps: f64) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::rms_norm_rows(x.into_dispatch(), weight.clone().into_dispatch(), eps as f32))
}

/// The plan for a decoder whose cache holds `capacity` slots ([`AttentionPlan::choose`], with
/// the device's multiprocessor count where `split_from` says caches split), or `None` where the
/// kernel does not take it: that decoder's steps keep Burn's operations.
pub fn attention_plan(split_from: Option<usize>, groups: usize, kv_heads: usize, head_dim: usize, capacity: usize, dtype: DType, device: &Device) -> Option<AttentionPlan> {
    let multiprocessors = DeviceFacts::of_device(device).ok()?.multiprocessors;
    AttentionPlan::choose(split_from, groups, kv_heads, head_dim, capacity, dtype.size(), multiprocessors)
}

/// One layer's decode-step attention on [`decode_attention::decode_attention_kernel`], from the
/// q/k/v product `qkv` `[1, 1, (heads + 2 kv_heads) * head_dim]` to the heads' outputs `[1, 1,
/// heads * head_dim]`; `qk_norm` is the q/k norm's weight `[heads + kv_heads, head_dim]` and eps.
/// Returns the outputs and the caches `[1, kv_heads, capacity, head_dim]`, written in place at the
/// step's position.
pub fn decode_attention(qkv: Tensor<3>, qk_norm: (&Tensor<2>, f64), step: &AttentionStep, keys: Tensor<4>, values: Tensor<4>) -> (Tensor<3>, Tensor<4>, Tensor<4>) {
    let AttentionStep { position, cos, sin, plan } = step;
    let inputs = StepAttention {
        qkv: qkv.into_dispatch(),
        norm: qk_norm.0.clone().into_dispatch(),
        cos: cos.clone().into_dispatch(),
        sin: sin.clone().into_dispatch(),
        position: position.clone().into_dispatch(),
        k_cache: keys.into_dispatch(),
        v_cache: values.into_dispatch(),
    };
    let (out, keys, values) = Dispatch::decode_attention(inputs, AttentionParams { eps: qk_norm.1 as f32, plan: *plan });
    (Tensor::from_dispatch(out), Tensor::from_dispatch(keys), Tensor::from_dispatch(values))
}
