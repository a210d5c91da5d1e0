use burn::tensor::Tensor;

/// A bias-free linear layer, `x · W` with `W` as `[1, in, out]`: shaped once at load for the
/// `[1, L, in]` activations, where `burn::tensor::module::linear` would reshape the weight (one
/// more fusion op) on every call.
pub struct Linear {
    weight: Tensor<3>,
}

impl Linear {
    /// `weight` in Burn's `[in, out]` layout (the loader transposes PyTorch's `[out, in]`).
    pub fn new(weight: Tensor<2>) -> Self {
        Self { weight: weight.unsqueeze::<3>() }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        x.matmul(self.weight.clone())
    }
}
