use crate::kernels;
use crate::nn::Normed;
use burn::tensor::Tensor;
use burn::tensor::activation::silu;

/// A bias-free linear layer, `x · W` with `W` as `[1, in, out]`: shaped once at load for the
/// `[1, L, in]` activations, where `burn::tensor::module::linear` would reshape the weight (one
/// more fusion op) on every call.
pub struct Linear {
    weight: Tensor<3>,
    /// The weight as the custom decode kernel reads it (`--kernels gemv`).
    rows: Rows,
}

/// A [`Linear`]'s weight for the custom kernel.
enum Rows {
    /// Burn's matmul only (`--kernels gemv` not selected).
    None,
    /// `[out, in]` rows.
    Plain(Tensor<2>),
    /// A gated pair's gate and up rows side by side in pairs (`--kernels fuse`,
    /// [`Linear::gated`]), for the kernel's SwiGLU epilogue: only [`Linear::forward_glu`] reads them.
    Pairs(Tensor<2>),
}

impl Linear {
    /// `weight` in Burn's `[in, out]` layout (the loader transposes PyTorch's `[out, in]`).
    pub fn new(weight: Tensor<2>) -> Self {
        let rows = if kernels::gemv_selected() { Rows::Plain(kernels::rows_of(&weight)) } else { Rows::None };
        Self { weight: weight.unsqueeze::<3>(), rows }
    }

    /// A gate and an up projection side by side (`[in, 2 n]`), for [`Linear::forward_glu`].
    pub fn gated(weight: Tensor<2>) -> Self {
        if !(kernels::gemv_selected() && kernels::fuse_selected()) {
            return Self::new(weight);
        }
        Self { rows: Rows::Pairs(kernels::pair_rows_of(&weight)), weight: weight.unsqueeze::<3>() }
    }

    /// The `[out, in]` rows where `x` is one token (a decode step) and the kernel is selected.
    fn decode_rows(&self, x: &Tensor<3>) -> Option<&Tensor<2>> {
        match &self.rows {
            Rows::Plain(rows) if x.dims()[1] == 1 => Some(rows),
            _ => None,
        }
    }

    /// One token (a decode step) goes to the custom kernel where it is selected.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match self.decode_rows(&x) {
            Some(rows) => kernels::gemv(x, rows),
            None => x.matmul(self.weight.clone()),
        }
    }

    /// `forward(norm(x))`; for one token with `--kernels prenorm`, the norm inside the product.
    pub fn forward_normed(&self, input: Normed) -> Tensor<3> {
        match self.decode_rows(&input.x) {
            Some(rows) if kernels::prenorm_selected() => kernels::gemv_in(input.x, rows, Some(input.norm.kernel_args()), false),
            _ => self.forward(input.apply()),
        }
    }

    /// SwiGLU of a gated pair ([`Linear::gated`]): `silu(gate) * up` of `norm(x)`'s projections,
    /// `[.., n]`; for one token with `--kernels fuse`, in the product's epilogue (the norm inside
    /// it too with `--kernels prenorm`), one launch.
    pub fn forward_glu(&self, input: Normed) -> Tensor<3> {
        if let Rows::Pairs(rows) = &self.rows
            && input.x.dims()[1] == 1
        {
            return match kernels::prenorm_selected() {
                true => kernels::gemv_in(input.x, rows, Some(input.norm.kernel_args()), true),
                false => kernels::gemv_in(input.apply(), rows, None, true),
            };
        }
        let gate_up = self.forward_normed(input);
        let n = gate_up.dims()[2] / 2;
        silu(gate_up.clone().narrow(2, 0, n)) * gate_up.narrow(2, n, n)
    }

    /// `residual + forward(x)`; for one token with `--kernels fuse`, the add inside the product.
    pub fn forward_add(&self, x: Tensor<3>, residual: Tensor<3>) -> Tensor<3> {
        match self.decode_rows(&x) {
            Some(rows) if kernels::fuse_selected() => kernels::gemv_add(x, rows, residual),
            _ => residual + self.forward(x),
        }
    }
}
