use crate::kernels::{self, Kernels, Third};
use crate::nn::RmsNorm;
use burn::tensor::Tensor;
use burn::tensor::activation::silu;

/// A bias-free linear layer as it runs, fixed at load: Burn's matrix product for passes of several
/// tokens (and for one token without `--kernels gemv`), or the matrix-vector kernel for one token
/// (a decode step); with what the layer computes around its product ([`Role`]), each part done by
/// Burn's operations or folded into the kernel's launch as the kernel set says. The weight is held
/// once, in the layout of the kernel where the layer has one (both products read it), else in Burn's.
pub struct Linear {
    weight: Weight,
    role: Role,
    /// One token's product on the kernel, reading the [`Weight::Rows`], where `--kernels gemv`
    /// built it.
    kernel: Option<OnKernel>,
    /// The product's outputs are gate and up values in pairs (`gate 0, up 0, gate 1, ...`), as the
    /// rows are laid out for the kernel's SwiGLU epilogue ([`kernels::pair_rows`]); else, for
    /// [`Output::SwiGlu`], the gate's outputs then the up projection's.
    gate_up_pairs: bool,
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

/// The layer's weight, in one layout.
enum Weight {
    /// Burn's `[1, in, out]`, shaped once at load for the `[1, L, in]` activations, where
    /// `burn::tensor::module::linear` would reshape the weight (one more fusion op) on every call.
    /// The untied layers without the kernel.
    Columns(Tensor<3>),
    /// `[out, in]` (PyTorch's layout, the embedding table's for the tied LM head), contiguous: what
    /// the kernel reads, and what Burn's product reads as `W · xᵀ` (a transposed view of the
    /// weight would be copied on every call; the activations' result is transposed instead). Gate
    /// and up rows in pairs where SwiGLU is folded into the kernel.
    Rows(Tensor<2>),
}

/// One token's product on [`kernels::gemv`] (reading the layer's [`Weight::Rows`]): what the
/// launch folds in.
struct OnKernel {
    /// The input's RMSNorm inside the launch (`--kernels prenorm`).
    norm: bool,
    /// SwiGLU as the launch's epilogue (`--kernels fuse`).
    glu: bool,
    /// The residual add as the launch's epilogue (`--kernels fuse`).
    add: bool,
}

impl OnKernel {
    /// The parts of `role` that `kernels` folds into the launch.
    fn new(role: &Role, kernels: Kernels) -> Self {
        Self {
            norm: kernels.prenorm && role.input_norm.is_some(),
            glu: kernels.fuse && role.output == Output::SwiGlu,
            add: kernels.fuse && role.output == Output::AddResidual,
        }
    }
}

impl Linear {
    /// A layer on Burn's product alone, its weight `parts` in Burn's `[in, out]` layout (the loader
    /// transposes PyTorch's `[out, in]`) side by side: for [`Output::SwiGlu`], the gate then the up
    /// projection.
    pub fn from_columns(parts: Vec<Tensor<2>>, role: Role) -> Self {
        Self { weight: Weight::Columns(joined(parts, 1).unsqueeze::<3>()), role, kernel: None, gate_up_pairs: false }
    }

    /// A layer whose weight `parts` are PyTorch's `[out, in]` rows, one after another (for
    /// [`Output::SwiGlu`], the gate then the up projection), with the kernel where `kernels` has
    /// `gemv`. One part is held as it is (the tied LM head reads the embedding table: no copy).
    pub fn from_rows(parts: Vec<Tensor<2>>, role: Role, kernels: Kernels) -> Self {
        let kernel = kernels.gemv.then(|| OnKernel::new(&role, kernels));
        let gate_up_pairs = kernel.as_ref().is_some_and(|kernel| kernel.glu);
        let rows = if gate_up_pairs {
            let [gate, up] = <[Tensor<2>; 2]>::try_from(parts).unwrap_or_else(|_| panic!("a gated layer's weight is a gate and an up projection"));
            kernels::pair_rows(gate, up)
        } else {
            joined(parts, 0)
        };
        Self { weight: Weight::Rows(rows), role, kernel, gate_up_pairs }
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
        let output = if self.role.output == Output::SwiGlu && !glu_done { swiglu(product, self.gate_up_pairs) } else { product };
        match residual {
            Some(residual) => residual + output,
            None => output,
        }
    }

    /// The kernel's launch with what it folds in; returns its output, whether SwiGLU was folded
    /// in, and the residual still to add.
    fn on_kernel(&self, kernel: &OnKernel, x: Tensor<3>, residual: Option<Tensor<3>>) -> (Tensor<3>, bool, Option<Tensor<3>>) {
        let Weight::Rows(rows) = &self.weight else { unreachable!("a layer on the kernel holds its weight as rows") };
        let norm = self.role.input_norm.as_ref().filter(|_| kernel.norm);
        let (x, third, residual) = match (norm, residual) {
            (Some(norm), residual) => {
                let (weight, eps) = norm.kernel_args();
                (x, Third::Norm(weight, eps), residual)
            }
            (None, Some(residual)) if kernel.add => (self.normalised(x), Third::Residual(residual), None),
            (None, residual) => (self.normalised(x), Third::Neither, residual),
        };
        (kernels::gemv(x, rows, third, kernel.glu), kernel.glu, residual)
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

/// `parts` concatenated along `axis`; a single part as it is (a concatenation would copy it).
fn joined(mut parts: Vec<Tensor<2>>, axis: usize) -> Tensor<2> {
    if parts.len() == 1 { parts.remove(0) } else { Tensor::cat(parts, axis) }
}

/// `silu(gate) * up` of a gate and an up projection's outputs on the last axis: in `pairs` (`gate 0,
/// up 0, gate 1, ...`), else side by side.
fn swiglu(gate_up: Tensor<3>, pairs: bool) -> Tensor<3> {
    let [batch, len, width] = gate_up.dims();
    let n = width / 2;
    if pairs {
        let pairs = gate_up.reshape([batch, len, n, 2]);
        return (silu(pairs.clone().narrow(3, 0, 1)) * pairs.narrow(3, 1, 1)).reshape([batch, len, n]);
    }
    silu(gate_up.clone().narrow(2, 0, n)) * gate_up.narrow(2, n, n)
}
