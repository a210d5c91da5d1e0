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
    /// Burn's product's outputs are gate and up values in pairs (`gate 0, up 0, gate 1, ...`): the
    /// layer's [`Weight::Rows`] are laid out for the kernel's SwiGLU epilogue
    /// ([`kernels::pair_rows`], `--kernels rows` with `fuse`); else, for [`Output::SwiGlu`], the
    /// gate's outputs then the up projection's.
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

/// The weight as Burn's product reads it.
enum Weight {
    /// `[1, in, out]`, shaped once at load for the `[1, L, in]` activations, where
    /// `burn::tensor::module::linear` would reshape the weight (one more fusion op) on every call.
    Columns(Tensor<3>),
    /// `[out, in]` (PyTorch's layout: the tied LM head's embedding table as stored, every layer
    /// with `--kernels rows`, and every quantized one, `--quant`), contiguous, read as `W · xᵀ`: a
    /// transposed view of the weight would be copied on every call, so the activations' small
    /// result is transposed instead. With
    /// `rows`, the same tensor the kernel reads (gate and up rows in pairs where SwiGLU is folded
    /// into the kernel).
    Rows(Tensor<2>),
}

/// One token's product on [`kernels::gemv`]: the weight's rows and what the launch folds in.
struct OnKernel {
    /// `[out, in]`, or gate and up rows in pairs where SwiGLU is folded in: a copy of its own next
    /// to Burn's [`Weight::Columns`], or the layer's [`Weight::Rows`] themselves (one tensor, two
    /// handles).
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
            glu: Self::folds_glu(role, kernels),
            add: kernels.fuse && role.output == Output::AddResidual,
        }
    }

    /// Whether the launch's epilogue does SwiGLU (its rows then in gate/up pairs).
    fn folds_glu(role: &Role, kernels: Kernels) -> bool {
        kernels.gemv && kernels.fuse && role.output == Output::SwiGlu
    }
}

impl Linear {
    /// `weight` in Burn's `[in, out]` layout (the loader transposes PyTorch's `[out, in]`); for
    /// [`Output::SwiGlu`], the gate columns then the up columns. With `gemv` the kernel gets its
    /// own `[out, in]` copy, made here: the weight is then on the device twice.
    pub fn new(weight: Tensor<2>, role: Role, kernels: Kernels) -> Self {
        let kernel = kernels.gemv.then(|| {
            let rows = if OnKernel::folds_glu(&role, kernels) { kernels::pair_rows_of(&weight) } else { kernels::rows_of(&weight) };
            OnKernel::new(rows, &role, kernels)
        });
        Self { weight: Weight::Columns(weight.unsqueeze::<3>()), role, kernel, gate_up_pairs: false }
    }

    /// A layer holding its weight once, as PyTorch's `[out, in]` rows: `parts` one after another
    /// (for [`Output::SwiGlu`], the gate then the up projection; in pairs where the kernel's
    /// SwiGLU epilogue reads them). Burn's product reads them as `W · xᵀ`, and the kernel, where
    /// `kernels` has `gemv`, reads the same tensor. The tied LM head (the embedding table as
    /// stored: one part, held as it is, no copy) and every layer with `--kernels rows`.
    pub fn from_rows(parts: Vec<Tensor<2>>, role: Role, kernels: Kernels) -> Self {
        let gate_up_pairs = OnKernel::folds_glu(&role, kernels);
        let rows = if gate_up_pairs {
            let [gate, up] = <[Tensor<2>; 2]>::try_from(parts).unwrap_or_else(|_| panic!("a gated layer's weight is a gate and an up projection"));
            kernels::pair_rows(gate, up)
        } else {
            joined(parts, 0)
        };
        let kernel = kernels.gemv.then(|| OnKernel::new(rows.clone(), &role, kernels));
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

/// `parts` concatenated along `axis`; a single part as it is (a concatenation would copy it).
pub fn joined(mut parts: Vec<Tensor<2>>, axis: usize) -> Tensor<2> {
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
