//! Without a CubeCL backend compiled in, [`super::Kernels::check`] refuses every kernel, so no
//! model holds one and these are never reached; no plan is ever made.

use super::{AttentionPlan, AttentionStep, Third};
use burn::tensor::{DType, Device, Tensor};

pub fn gemv(_x: Tensor<3>, _rows: &Tensor<2>, _third: Third<'_>, _glu: bool) -> Tensor<3> {
    unreachable!("custom kernels are not compiled in")
}

pub fn rms_norm<const D: usize>(_x: Tensor<D>, _weight: &Tensor<2>, _eps: f64) -> Tensor<D> {
    unreachable!("custom kernels are not compiled in")
}

pub fn attention_plan(_split_from: Option<usize>, _groups: usize, _kv_heads: usize, _head_dim: usize, _capacity: usize, _dtype: DType, _device: &Device) -> Option<AttentionPlan> {
    None
}

pub fn decode_attention(_qkv: Tensor<3>, _qk_norm: (&Tensor<2>, f64), _step: &AttentionStep, _keys: Tensor<4>, _values: Tensor<4>) -> (Tensor<3>, Tensor<4>, Tensor<4>) {
    unreachable!("custom kernels are not compiled in")
}
