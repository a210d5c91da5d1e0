use crate::kernels;
use burn::tensor::{DType, Tensor};

/// RMSNorm over the last axis of rank-`D` activations, its weight shaped for them at load
/// (`[1, 1, width]`, or `[1, 1, heads, head_dim]` for the per-head query/key norm).
pub struct RmsNorm<const D: usize> {
    weight: Tensor<D>,
    eps: f64,
    /// The weight as `[rows, width]`, as the custom kernels read it (a reshape: no copy).
    rows: Tensor<2>,
}

impl<const D: usize> RmsNorm<D> {
    pub fn new(weight: Tensor<D>, eps: f64) -> Self {
        let dims = weight.dims();
        let width = dims[D - 1];
        let rows = weight.clone().reshape([dims.iter().product::<usize>() / width, width]);
        Self { weight, eps, rows }
    }

    /// The weight as `[rows, width]` (one row per query/key head for the per-head norm) and eps,
    /// as the custom kernels take them.
    pub fn kernel_args(&self) -> (&Tensor<2>, f64) {
        (&self.rows, self.eps)
    }

    /// `weight * (x * rsqrt(mean(x²) + eps))` over the last axis, the statistics in f32 as in
    /// Hugging Face Qwen3. Multiplied by the reciprocal rather than divided: written as
    /// `x / sqrt(..)` it made Burn 0.21's fusion code generator panic in f16 (README, "Known
    /// problems"); not retried on 0.22.
    pub fn forward(&self, x: Tensor<D>) -> Tensor<D> {
        if kernels::norm_selected() {
            return kernels::rms_norm(x, &self.rows, self.eps);
        }
        let dtype = x.dtype();
        let x32 = x.cast(DType::F32);
        let inv_rms = x32.clone().square().mean_dim(D - 1).add_scalar(self.eps).sqrt().recip();
        (x32 * inv_rms).cast(dtype) * self.weight.clone()
    }
}

/// Hidden states with their RMSNorm still to apply: the linear layer that takes them applies the
/// norm inside its matrix-vector kernel where `--kernels prenorm` is selected (one launch fewer),
/// else first, with [`RmsNorm::forward`].
pub struct Normed<'a> {
    pub x: Tensor<3>,
    pub norm: &'a RmsNorm<3>,
}

impl Normed<'_> {
    /// The normalised hidden states.
    pub fn apply(self) -> Tensor<3> {
        self.norm.forward(self.x)
    }
}
