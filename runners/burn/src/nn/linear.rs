use crate::kernels::{self, Kernels, Third};
use crate::nn::RmsNorm;
use burn::tensor::Tensor;
use burn::tensor::activation::silu;

/// A bias-free linear layer as it runs, fixed at load: Burn's matrix product for passes of several
/// tokens (and for one token without `--kernels gemv`), or the matrix-vector kernel for one token
/// (a decode step); with what the layer computes around its product ([`Role`]), each part done by
/// Burn's operations or folded into the kernel's launch as the kernel set says.
pub struct Linear {
    weight: Weight,
    role: Role,
    /// One token's product on the kernel, where `--kernels gemv` built it.
    kernel: Option<OnKernel>,
}

/// What a layer computes around its product, part of the model's definition.
pub struct Role {
    /// The RMSNorm of its input, for the layers that read the residual stream (q/k/v, gate/up,
    /// the LM head): the layer takes the stream as it is.
    pub input_norm: Option<RmsNorm<3>>,
    pub output: Output,
}

/// What a layer makes of its product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The product itself.
    Product,
    /// SwiGLU of a gate and an up projection side by side: `silu(gate) * up`, half the width.
    SwiGlu,
    /// The product added to the residual stream ([`Linear::forward_add`]).
    AddResidual,
}

/// The weight as Burn's product reads it.
enum Weight {
    /// `[1, in, out]`, shaped once at load for the `[1, L, in]` activations, where
    /// `burn::tensor::module::linear` would reshape the weight (one more fusion op) on every call;
    /// in the run dtype, or quantized (`--quant`, src/quant.rs).
    Columns(Tensor<3>),
    /// `[out, in]` (the tied LM head: the embedding table as stored), read as `W · xᵀ`: a
    /// transposed view of the 151,936-row table would be copied on every call.
    Rows(Tensor<2>),
}

/// One token's product on [`kernels::gemv`]: the weight's rows and what the launch folds in.
struct OnKernel {
    /// `[out, in]`, or gate and up rows in pairs where SwiGLU is folded in.
    rows: Tensor<2>,
    /// The input's RMSNorm inside the launch (`--kernels prenorm`).
    norm: bool,
    /// SwiGLU as the launch's epilogue (`--kernels fuse`).
    glu: bool,
    /// The residual add as the launch's epilogue (`--kernels fuse`).
    add: bool,
}

impl OnKernel {
    /// `rows` as the kernel reads them, with the parts of `role` that `kernels` folds in.
    fn new(rows: Tensor<2>, role: &Role, kernels: Kernels) -> Self {
        Self {
            rows,
            norm: kernels.prenorm && role.input_norm.is_some(),
            glu: kernels.fuse && role.output == Output::SwiGlu,
            add: kernels.fuse && role.output == Output::AddResidual,
        }
    }
}

impl Linear {
    /// `weight` in Burn's `[in, out]` layout (the loader transposes PyTorch's `[out, in]`); for
    /// [`Output::SwiGlu`], the gate columns then the up columns.
    pub fn new(weight: Tensor<2>, role: Role, kernels: Kernels) -> Self {
        let kernel = kernels.gemv.then(|| {
            let rows = if kernels.fuse && role.output == Output::SwiGlu { kernels::pair_rows_of(&weight) } else { kernels::rows_of(&weight) };
            OnKernel::new(rows, &role, kernels)
        });
        Self { weight: Weight::Columns(weight.unsqueeze::<3>()), role, kernel }
    }

    /// A layer on Burn's matrix product only, its weight already `[1, in, out]` (a quantized one:
    /// `--quant`, which runs without this runner's kernels).
    pub fn from_columns(weight: Tensor<3>, role: Role) -> Self {
        Self { weight: Weight::Columns(weight), role, kernel: None }
    }

    /// A layer whose weight is stored as `[out, in]` rows (the tied LM head reads the embedding
    /// table): the kernel reads them as they are, no copy.
    pub fn from_rows(rows: Tensor<2>, role: Role, kernels: Kernels) -> Self {
        assert_ne!(role.output, Output::SwiGlu, "a gated layer's rows are laid out at load");
        let kernel = kernels.gemv.then(|| OnKernel::new(rows.clone(), &role, kernels));
        Self { weight: Weight::Rows(rows), role, kernel }
    }

    /// The layer's output for `x` `[1, L, in]` (its input norm and SwiGLU included).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.run(x, None)
    }

    /// `residual + forward(x)`, for an [`Output::AddResidual`] layer.
    pub fn forward_add(&self, x: Tensor<3>, residual: Tensor<3>) -> Tensor<3> {
        self.run(x, Some(residual))
    }

    /// One token on the kernel where the layer has one, else Burn's operations; then whatever of
    /// SwiGLU and the residual add the launch did not fold in.
    fn run(&self, x: Tensor<3>, residual: Option<Tensor<3>>) -> Tensor<3> {
        let (product, glu_done, residual) = match &self.kernel {
            Some(kernel) if x.dims()[1] == 1 => self.on_kernel(kernel, x, residual),
            _ => (self.burn_product(self.normalised(x)), false, residual),
        };
        let output = if self.role.output == Output::SwiGlu && !glu_done { swiglu(product) } else { product };
        match residual {
            Some(residual) => residual + output,
            None => output,
        }
    }

    /// The kernel's launch with what it folds in; returns its output, whether SwiGLU was folded
    /// in, and the residual still to add.
    fn on_kernel(&self, kernel: &OnKernel, x: Tensor<3>, residual: Option<Tensor<3>>) -> (Tensor<3>, bool, Option<Tensor<3>>) {
        let norm = self.role.input_norm.as_ref().filter(|_| kernel.norm);
        let (x, third, residual) = match (norm, residual) {
            (Some(norm), residual) => {
                let (weight, eps) = norm.kernel_args();
                (x, Third::Norm(weight, eps), residual)
            }
            (None, Some(residual)) if kernel.add => (self.normalised(x), Third::Residual(residual), None),
            (None, residual) => (self.normalised(x), Third::Neither, residual),
        };
        (kernels::gemv(x, &kernel.rows, third, kernel.glu), kernel.glu, residual)
    }

    /// The input after the layer's norm, where it has one.
    fn normalised(&self, x: Tensor<3>) -> Tensor<3> {
        match &self.role.input_norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }

    /// `x · W` with Burn's matmul.
    fn burn_product(&self, x: Tensor<3>) -> Tensor<3> {
        match &self.weight {
            Weight::Columns(weight) => x.matmul(weight.clone()),
            Weight::Rows(rows) => {
                let [batch, len, width] = x.dims();
                let x = x.reshape([batch * len, width]).transpose();
                let y = rows.clone().matmul(x).transpose();
                y.reshape([batch, len, rows.dims()[0]])
            }
        }
    }
}

/// `silu(gate) * up` of a gate and an up projection side by side on the last axis.
fn swiglu(gate_up: Tensor<3>) -> Tensor<3> {
    let n = gate_up.dims()[2] / 2;
    silu(gate_up.clone().narrow(2, 0, n)) * gate_up.narrow(2, n, n)
}
