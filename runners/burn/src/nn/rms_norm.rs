use crate::kernels;
use burn::tensor::{DType, Tensor};

/// RMSNorm over the last axis of rank-`D` activations, its weight shaped for them at load
/// (`[1, 1, width]`, or `[1, 1, heads, head_dim]` for the per-head query/key norm), computed with
/// Burn's operations or, where `--kernels norm` built it so, by the norm kernel.
pub struct RmsNorm<const D: usize> {
    weight: Tensor<D>,
    eps: f64,
    /// The weight as `[rows, width]`, as the custom kernels read it (a reshape: no copy).
    rows: Tensor<2>,
    /// Whether [`RmsNorm::forward`] runs the norm kernel.
    on_kernel: bool,
}

impl<const D: usize> RmsNorm<D> {
    pub fn new(weight: Tensor<D>, eps: f64, on_kernel: bool) -> Self {
        let dims = weight.dims();
        let width = dims[D - 1];
        let rows = weight.clone().reshape([dims.iter().product::<usize>() / width, width]);
        Self { weight, eps, rows, on_kernel }
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
        if self.on_kernel {
            return kernels::rms_norm(x, &self.rows, self.eps);
        }
        let dtype = x.dtype();
        let x32 = x.cast(DType::F32);
        let inv_rms = x32.clone().square().mean_dim(D - 1).add_scalar(self.eps).sqrt().recip();
        (x32 * inv_rms).cast(dtype) * self.weight.clone()
    }
}
