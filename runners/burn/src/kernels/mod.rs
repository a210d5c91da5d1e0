//! Hand-written CubeCL kernels for batch-1 decode steps (`--kernels custom`), next to Burn's own
//! operations (`--kernels burn`, the default). Each kernel is a Burn backend extension
//! (`#[backend_extension]`, as in Burn's `examples/custom-cubecl-kernel`): implemented once for
//! any CubeCL runtime (CUDA, Vulkan, Metal) and once for Burn's `Fusion` wrapper, where it is
//! recorded as a custom operation so that fusion and the decode graph carry it like any other op.
//! See README.md, "Custom kernels".

#[cfg(feature = "kernels")]
mod extension;
#[cfg(feature = "kernels")]
pub mod gemv;
#[cfg(feature = "kernels")]
pub mod bench;
#[cfg(feature = "kernels")]
pub mod rms_norm;

use burn::tensor::Tensor;
use std::sync::OnceLock;

/// Which kernels the decode path's linear layers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// Burn's own operations throughout (`Tensor::matmul`).
    Burn,
    /// Only the matrix-vector products of decode steps on [`gemv::gemv_rows_kernel`] (what
    /// `custom` meant before the RMSNorm kernel, runners/burn at b2da632 and earlier).
    Gemv,
    /// The matrix-vector products of decode steps (q/k/v, o, gate/up, down, LM head) run
    /// [`gemv::gemv_rows_kernel`] (prefill keeps Burn's matmul), and every RMSNorm runs
    /// [`rms_norm::rms_norm_rows_kernel`].
    Custom,
}

impl Kernels {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "burn" => Ok(Kernels::Burn),
            "gemv" => Ok(Kernels::Gemv),
            "custom" => Ok(Kernels::Custom),
            other => Err(format!("unknown kernels {other:?} (burn, gemv, custom)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernels::Burn => "burn",
            Kernels::Gemv => "gemv",
            Kernels::Custom => "custom",
        }
    }
}

/// The process's choice, set once from the command line before the model loads (the layers read
/// it while loading, to lay their weights out for the kernels).
static KERNELS: OnceLock<Kernels> = OnceLock::new();

/// Sets the kernels for this process; `Err` if `backend` cannot run them.
pub fn select(kernels: Kernels, backend: &str) -> Result<(), String> {
    if kernels != Kernels::Burn {
        if !cfg!(feature = "kernels") {
            return Err(format!("--kernels {}: this binary was built without a CubeCL backend (cuda, wgpu, metal)", kernels.name()));
        }
        if !matches!(backend, "cuda" | "wgpu" | "metal") {
            return Err(format!("--kernels {}: the kernels are CubeCL kernels; backend {backend} is not a CubeCL backend (cuda, wgpu, metal)", kernels.name()));
        }
        // H200, 2026-11-29: CubeCL 0.11.0-pre.3's SPIR-V compiler panics on the kernel
        // (`vector.f_sum` of an 8-wide f32 vector is not "TriviallyUnrollable" in its unroll pass),
        // and the launch then writes nothing; Metal's compiler is untested. README, "Custom kernels".
        if backend != "cuda" {
            return Err(format!("--kernels {}: not yet on {backend} (CubeCL 0.11.0-pre.3's SPIR-V compiler rejects the kernel's vector sum; see runners/burn/README.md, \"Custom kernels\")", kernels.name()));
        }
    }
    KERNELS.set(kernels).map_err(|_| "kernels already selected".to_string())
}

/// The kernels selected, [`Kernels::Burn`] if none was.
pub fn selected() -> Kernels {
    KERNELS.get().copied().unwrap_or(Kernels::Burn)
}

/// Whether decode steps' matrix-vector products run [`gemv::gemv_rows_kernel`] (`gemv`, `custom`).
pub fn gemv_selected() -> bool {
    selected() != Kernels::Burn
}

/// Whether RMSNorm runs [`rms_norm::rms_norm_rows_kernel`] (`custom`).
pub fn norm_selected() -> bool {
    selected() == Kernels::Custom
}

/// `x` `[1, 1, in]` times `w_rows` `[out, in]` (row-major) -> `[1, 1, out]`, on the custom kernel.
#[cfg(feature = "kernels")]
pub fn gemv(x: Tensor<3>, w_rows: &Tensor<2>) -> Tensor<3> {
    use extension::DecodeKernels;
    Tensor::from_dispatch(burn::backend::Dispatch::gemv_rows(x.into_dispatch(), w_rows.clone().into_dispatch()))
}

/// RMSNorm of `x` over its last axis on the custom kernel; `weight` `[w_rows, width]`.
#[cfg(feature = "kernels")]
pub fn rms_norm<const D: usize>(x: Tensor<D>, weight: &Tensor<2>, eps: f64) -> Tensor<D> {
    use extension::DecodeKernels;
    Tensor::from_dispatch(burn::backend::Dispatch::rms_norm_rows(x.into_dispatch(), weight.clone().into_dispatch(), eps as f32))
}

/// Without a CubeCL backend compiled in, [`select`] refuses `custom`, so this is never reached.
#[cfg(not(feature = "kernels"))]
pub fn rms_norm<const D: usize>(_x: Tensor<D>, _weight: &Tensor<2>, _eps: f64) -> Tensor<D> {
    unreachable!("custom kernels are not compiled in")
}

/// Without a CubeCL backend compiled in, [`select`] refuses `custom`, so this is never reached.
#[cfg(not(feature = "kernels"))]
pub fn gemv(_x: Tensor<3>, _w_rows: &Tensor<2>) -> Tensor<3> {
    unreachable!("custom kernels are not compiled in")
}

/// `weight` `[in, out]` as the contiguous row-major `[out, in]` the kernel reads, made once at load
/// (through the host: a transposed view would be read with a stride of `out` elements).
pub fn rows_of(weight: &Tensor<2>) -> Tensor<2> {
    let rows = weight.clone().transpose();
    let (device, dtype) = (rows.device(), rows.dtype());
    Tensor::from_data(rows.into_data(), (&device, dtype))
}
