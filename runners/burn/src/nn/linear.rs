use crate::kernels;
use crate::nn::Normed;
use burn::tensor::Tensor;
use burn::tensor::activation::silu;

/// A bias-free linear layer, `x · W` with `W` as `[1, in, out]`: shaped once at load for the
/// `[1, L, in]` activations, where `burn::tensor::module::linear` would reshape the weight (one
/// more fusion op) on every call.
pub struct Linear {
    weight: Tensor<3>,
    /// The weight as `[out, in]` rows for the custom decode kernel (`--kernels gemv`).
    rows: Option<Tensor<2>>,
    /// `rows` are a gated pair's gate and up rows side by side in pairs, for the kernel's SwiGLU
    /// epilogue (`--kernels fuse`, [`Linear::gated`]): only [`Linear::forward_glu`] reads them.
    paired: bool,
}

impl Linear {
    /// `weight` in Burn's `[in, out]` layout (the loader transposes PyTorch's `[out, in]`).
    pub fn new(weight: Tensor<2>) -> Self {
        let rows = kernels::gemv_selected().then(|| kernels::rows_of(&weight));
        Self { weight: weight.unsqueeze::<3>(), rows, paired: false }
    }

    /// A gate and an up projection side by side (`[in, 2 n]`), for [`Linear::forward_glu`].
    pub fn gated(weight: Tensor<2>) -> Self {
        if !(kernels::gemv_selected() && kernels::fuse_selected()) {
            return Self::new(weight);
        }
        Self { rows: Some(kernels::pair_rows_of(&weight)), weight: weight.unsqueeze::<3>(), paired: true }
    }

    /// One token (a decode step) goes to the custom kernel where it is selected.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match &self.rows {
            Some(rows) if x.dims()[1] == 1 && !self.paired => kernels::gemv(x, rows),
            _ => x.matmul(self.weight.clone()),
        }
    }

    /// `forward(norm(x))`; for one token with `--kernels prenorm`, the norm inside the product.
    pub fn forward_normed(&self, input: Normed) -> Tensor<3> {
        match &self.rows {
            Some(rows) if input.x.dims()[1] == 1 && kernels::prenorm_selected() && !self.paired => {
                kernels::gemv_in(input.x, rows, Some((input.norm.rows(), input.norm.eps())), false)
            }
            _ => self.forward(input.apply()),
        }
    }

    /// SwiGLU of a gated pair ([`Linear::gated`]): `silu(gate) * up` of `norm(x)`'s projections,
    /// `[.., n]`; for one token with `--kernels fuse`, in the product's epilogue (the norm inside
    /// it too with `--kernels prenorm`), one launch.
    pub fn forward_glu(&self, input: Normed) -> Tensor<3> {
        if let Some(rows) = &self.rows
            && self.paired
            && input.x.dims()[1] == 1
        {
            return match kernels::prenorm_selected() {
                true => kernels::gemv_in(input.x, rows, Some((input.norm.rows(), input.norm.eps())), true),
                false => kernels::gemv_in(input.norm.forward(input.x), rows, None, true),
            };
        }
        let gate_up = self.forward_normed(input);
        let n = gate_up.dims()[2] / 2;
        silu(gate_up.clone().narrow(2, 0, n)) * gate_up.narrow(2, n, n)
    }

    /// Whether `x` (one token, the fused kernels selected) runs [`Linear::forward_add`] in one
    /// launch.
    pub fn fuses(&self, x: &Tensor<3>) -> bool {
        self.rows.is_some() && !self.paired && x.dims()[1] == 1 && kernels::fuse_selected()
    }

    /// `residual + forward(x)`.
    pub fn forward_add(&self, x: Tensor<3>, residual: Tensor<3>) -> Tensor<3> {
        match &self.rows {
            Some(rows) if self.fuses(&x) => kernels::gemv_add(x, rows, residual),
            _ => residual + self.forward(x),
        }
    }
}
