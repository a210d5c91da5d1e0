use crate::kernels;
use crate::nn::Normed;
use burn::tensor::Tensor;

/// A bias-free linear layer, `x · W` with `W` as `[1, in, out]`: shaped once at load for the
/// `[1, L, in]` activations, where `burn::tensor::module::linear` would reshape the weight (one
/// more fusion op) on every call.
pub struct Linear {
    weight: Tensor<3>,
    /// The weight as `[out, in]` rows for the custom decode kernel (`--kernels custom`).
    rows: Option<Tensor<2>>,
}

impl Linear {
    /// `weight` in Burn's `[in, out]` layout (the loader transposes PyTorch's `[out, in]`).
    pub fn new(weight: Tensor<2>) -> Self {
        let rows = kernels::gemv_selected().then(|| kernels::rows_of(&weight));
        Self { weight: weight.unsqueeze::<3>(), rows }
    }

    /// One token (a decode step) goes to the custom kernel where it is selected.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match &self.rows {
            Some(rows) if x.dims()[1] == 1 => kernels::gemv(x, rows),
            _ => x.matmul(self.weight.clone()),
        }
    }

    /// `forward(norm(x))`; for one token with `--kernels prenorm`, the norm inside the product.
    pub fn forward_normed(&self, input: Normed) -> Tensor<3> {
        match &self.rows {
            Some(rows) if input.x.dims()[1] == 1 && kernels::prenorm_selected() => {
                kernels::gemv_norm(input.x, rows, input.norm.rows(), input.norm.eps())
            }
            _ => self.forward(input.apply()),
        }
    }

    /// Whether `x` (one token, the fused kernels selected) runs [`Linear::forward_add`] and
    /// [`Linear::forward_swiglu_add`] in one launch.
    pub fn fuses(&self, x: &Tensor<3>) -> bool {
        self.rows.is_some() && x.dims()[1] == 1 && kernels::fuse_selected()
    }

    /// `residual + forward(x)`.
    pub fn forward_add(&self, x: Tensor<3>, residual: Tensor<3>) -> Tensor<3> {
        match &self.rows {
            Some(rows) if self.fuses(&x) => kernels::gemv_add(x, rows, residual, false),
            _ => residual + self.forward(x),
        }
    }

    /// `residual + forward(silu(gate) * up)` for `gate_up` `[1, 1, 2 in]`, in one launch; only
    /// where [`Linear::fuses`] says so.
    pub fn forward_swiglu_add(&self, gate_up: Tensor<3>, residual: Tensor<3>) -> Tensor<3> {
        let rows = self.rows.as_ref().expect("forward_swiglu_add: the fused kernels are not selected");
        kernels::gemv_add(gate_up, rows, residual, true)
    }
}
