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
mod plane;
#[cfg(feature = "kernels")]
pub mod rms_norm;
#[cfg(feature = "kernels")]
pub mod decode_attention;

use burn::tensor::{Int, Tensor};
use std::sync::OnceLock;

/// Which of this runner's kernels replace Burn's operations (`--kernels`): a set, named by its parts
/// joined with `+` (`gemv+norm`), `burn` for none and `custom` for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    /// The matrix-vector products of decode steps (q/k/v, o, gate/up, down, LM head) on
    /// [`gemv::gemv_rows_kernel`]; prefill keeps Burn's matmul.
    pub gemv: bool,
    /// Every RMSNorm (prefill included) on [`rms_norm::rms_norm_rows_kernel`].
    pub norm: bool,
    /// A decode step's attention from the q/k/v projection's output to the heads' outputs (q/k
    /// RMSNorm, RoPE, the cache write, scores, softmax, values) on
    /// [`decode_attention::decode_attention_kernel`], one launch a layer; prefill keeps Burn's ops.
    pub attention: bool,
    /// The residual connections' adds (after `o` and `down`) and the MLP's `silu(gate) * up` (the
    /// gate/up product's output) folded into the decode step's matrix-vector products, as
    /// epilogues of [`gemv::gemv_rows_kernel`]; needs `gemv`.
    pub fuse: bool,
    /// Each RMSNorm of the residual stream computed inside the decode step's product that follows
    /// it (q/k/v, gate/up, the LM head) rather than by a kernel of its own; needs `gemv`.
    pub prenorm: bool,
}

impl Kernels {
    /// Burn's own operations throughout (the default).
    pub const BURN: Self = Self { gemv: false, norm: false, attention: false, fuse: false, prenorm: false };
    /// Every kernel of this runner.
    pub const CUSTOM: Self = Self { gemv: true, norm: true, attention: true, fuse: true, prenorm: true };

    /// `burn`, `custom`, or parts joined with `+`: `gemv`, `norm`, `attention`, `fuse` and
    /// `prenorm` (these two with `gemv`).
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "burn" => return Ok(Self::BURN),
            "custom" => return Ok(Self::CUSTOM),
            _ => {}
        }
        let mut kernels = Self::BURN;
        for part in name.split('+') {
            let flag = match part {
                "gemv" => &mut kernels.gemv,
                "norm" => &mut kernels.norm,
                "attention" => &mut kernels.attention,
                "fuse" => &mut kernels.fuse,
                "prenorm" => &mut kernels.prenorm,
                other => return Err(format!("unknown kernels {other:?} (burn, custom, or parts joined with +: gemv, norm, attention, fuse, prenorm)")),
            };
            *flag = true;
        }
        for (part, on) in [("fuse", kernels.fuse), ("prenorm", kernels.prenorm)] {
            if on && !kernels.gemv {
                return Err(format!("kernels \"{part}\" folds work into the matrix-vector kernel: add gemv (gemv+{part})"));
            }
        }
        Ok(kernels)
    }

    /// The parts in a fixed order: their name, whether the set has them, what they replace.
    fn parts(self) -> [(&'static str, bool, &'static str); 5] {
        [
            ("gemv", self.gemv, "the decode step's matrix-vector products"),
            ("norm", self.norm, "RMSNorm"),
            ("attention", self.attention, "the decode step's attention (q/k norm, RoPE, cache write, softmax, values)"),
            ("fuse", self.fuse, "the residual adds and SwiGLU inside the products"),
            ("prenorm", self.prenorm, "the residual stream's RMSNorm inside the products"),
        ]
    }

    /// The name [`Kernels::parse`] reads back: `burn`, `custom`, or the parts in a fixed order.
    pub fn name(self) -> String {
        match self {
            Self::BURN => "burn".into(),
            Self::CUSTOM => "custom".into(),
            k => k.parts().iter().filter(|(_, on, _)| *on).map(|(part, _, _)| *part).collect::<Vec<_>>().join("+"),
        }
    }

    /// `ready.notes`' entry (the report's notes column): the set and what it replaces.
    pub fn describe(self) -> String {
        if self == Self::BURN {
            return "kernels=burn (Burn's own operations)".into();
        }
        let replaced: Vec<&str> = self.parts().iter().filter(|(_, on, _)| *on).map(|(_, _, what)| *what).collect();
        format!("kernels={}: this runner's CubeCL kernels for {}", self.name(), replaced.join(", "))
    }
}

/// The process's choice, set once from the command line before the model loads (the layers read
/// it while loading, to lay their weights out for the kernels).
static KERNELS: OnceLock<Kernels> = OnceLock::new();

/// Sets the kernels for this process; `Err` if `backend` cannot run them.
pub fn select(kernels: Kernels, backend: &str) -> Result<(), String> {
    if kernels != Kernels::BURN {
        if !cfg!(feature = "kernels") {
            return Err(format!("--kernels {}: this binary was built without a CubeCL backend (cuda, wgpu, metal)", kernels.name()));
        }
        if !matches!(backend, "cuda" | "wgpu" | "metal") {
            return Err(format!("--kernels {}: the kernels are CubeCL kernels; backend {backend} is not a CubeCL backend (cuda, wgpu, metal)", kernels.name()));
        }
    }
    KERNELS.set(kernels).map_err(|_| "kernels already selected".to_string())
}

/// The kernels selected, [`Kernels::BURN`] if none was.
pub fn selected() -> Kernels {
    KERNELS.get().copied().unwrap_or(Kernels::BURN)
}

/// Whether decode steps' matrix-vector products run [`gemv::gemv_rows_kernel`].
pub fn gemv_selected() -> bool {
    selected().gemv
}

/// Whether RMSNorm runs [`rms_norm::rms_norm_rows_kernel`].
pub fn norm_selected() -> bool {
    selected().norm
}

/// Whether the residual adds and SwiGLU ride in the matrix-vector kernel ([`Kernels::fuse`]).
pub fn fuse_selected() -> bool {
    selected().fuse
}

/// Whether the residual stream's RMSNorm rides in the product that follows it ([`Kernels::prenorm`]).
pub fn prenorm_selected() -> bool {
    selected().prenorm
}

/// Whether decode steps' attention runs [`decode_attention::decode_attention_kernel`].
pub fn attention_selected() -> bool {
    selected().attention
}

/// `x` `[1, 1, in]` times `w_rows` `[out, in]` (row-major) -> `[1, 1, out]`, on the custom kernel.
#[cfg(feature = "kernels")]
pub fn gemv(x: Tensor<3>, w_rows: &Tensor<2>) -> Tensor<3> {
    gemv_laid_out(x, w_rows, None)
}

/// [`gemv`] in a given launch layout (`None`: the kernel's choice); `--bench-kernels` compares them.
#[cfg(feature = "kernels")]
pub fn gemv_laid_out(x: Tensor<3>, w_rows: &Tensor<2>, layout: Option<gemv::Layout>) -> Tensor<3> {
    use extension::DecodeKernels;
    let fused = gemv::Fused { layout, ..Default::default() };
    Tensor::from_dispatch(burn::backend::Dispatch::gemv_rows(x.into_dispatch(), w_rows.clone().into_dispatch(), fused))
}

/// `residual + x · w_rowsᵀ` on the custom kernel, one launch.
#[cfg(feature = "kernels")]
pub fn gemv_add(x: Tensor<3>, w_rows: &Tensor<2>, residual: Tensor<3>) -> Tensor<3> {
    use extension::DecodeKernels;
    Tensor::from_dispatch(burn::backend::Dispatch::gemv_rows_add(x.into_dispatch(), w_rows.clone().into_dispatch(), residual.into_dispatch(), Default::default()))
}

/// `x · w_rowsᵀ` on the custom kernel, one launch, with the input's RMSNorm inside where `norm`
/// (its weight `[1, in]` and eps) is given (`x` then the un-normalised `[1, 1, in]`), and with
/// `glu` SwiGLU's `silu(gate) * up` as the output, `w_rows` then being [`pair_rows_of`]'s pairs.
#[cfg(feature = "kernels")]
pub fn gemv_in(x: Tensor<3>, w_rows: &Tensor<2>, norm: Option<(&Tensor<2>, f64)>, glu: bool) -> Tensor<3> {
    use extension::DecodeKernels;
    let fused = gemv::Fused { glu, norm_eps: norm.map(|(_, eps)| eps as f32), layout: None };
    let (x, w_rows) = (x.into_dispatch(), w_rows.clone().into_dispatch());
    Tensor::from_dispatch(match norm {
        Some((norm_w, _)) => burn::backend::Dispatch::gemv_rows_norm(x, w_rows, norm_w.clone().into_dispatch(), fused),
        None => burn::backend::Dispatch::gemv_rows(x, w_rows, fused),
    })
}

/// Without a CubeCL backend compiled in, [`select`] refuses `custom`, so this is never reached.
#[cfg(not(feature = "kernels"))]
pub fn gemv_in(_x: Tensor<3>, _w_rows: &Tensor<2>, _norm: Option<(&Tensor<2>, f64)>, _glu: bool) -> Tensor<3> {
    unreachable!("custom kernels are not compiled in")
}

/// Without a CubeCL backend compiled in, [`select`] refuses `custom`, so this is never reached.
#[cfg(not(feature = "kernels"))]
pub fn gemv_add(_x: Tensor<3>, _w_rows: &Tensor<2>, _residual: Tensor<3>) -> Tensor<3> {
    unreachable!("custom kernels are not compiled in")
}

/// RMSNorm of `x` over its last axis on the custom kernel; `weight` `[w_rows, width]`.
#[cfg(feature = "kernels")]
pub fn rms_norm<const D: usize>(x: Tensor<D>, weight: &Tensor<2>, eps: f64) -> Tensor<D> {
    use extension::DecodeKernels;
    Tensor::from_dispatch(burn::backend::Dispatch::rms_norm_rows(x.into_dispatch(), weight.clone().into_dispatch(), eps as f32))
}

/// One decode step's attention on [`decode_attention::decode_attention_kernel`]: `qkv`
/// `[1, 1, (heads + 2 kv_heads) * head_dim]`, `norm` the q/k norm weights `[heads + kv_heads,
/// head_dim]`, the RoPE tables `[positions, head_dim]`, `position` `[1]`, the caches `[1, kv_heads,
/// capacity, head_dim]`. Returns the heads' outputs `[1, 1, heads * head_dim]` and the caches,
/// written in place at `position`.
#[cfg(feature = "kernels")]
#[allow(clippy::too_many_arguments)]
pub fn decode_attention(qkv: Tensor<3>, norm: &Tensor<2>, rope: &(Tensor<2>, Tensor<2>), position: Tensor<1, Int>, k_cache: Tensor<4>, v_cache: Tensor<4>, eps: f64) -> (Tensor<3>, Tensor<4>, Tensor<4>) {
    use extension::DecodeKernels;
    let (out, keys, values) = burn::backend::Dispatch::decode_attention(
        qkv.into_dispatch(),
        norm.clone().into_dispatch(),
        rope.0.clone().into_dispatch(),
        rope.1.clone().into_dispatch(),
        position.into_dispatch(),
        k_cache.into_dispatch(),
        v_cache.into_dispatch(),
        eps as f32,
    );
    (Tensor::from_dispatch(out), Tensor::from_dispatch(keys), Tensor::from_dispatch(values))
}

/// Whether [`decode_attention`] takes this model's heads and a cache of `capacity` slots (its
/// scores live in shared memory).
pub fn attention_fits(groups: usize, head_dim: usize, capacity: usize, elem_bytes: usize) -> bool {
    #[cfg(feature = "kernels")]
    return decode_attention::fits(groups, head_dim, capacity, elem_bytes);
    #[cfg(not(feature = "kernels"))]
    return { let _ = (groups, head_dim, capacity, elem_bytes); false };
}

/// Without a CubeCL backend compiled in, [`select`] refuses `custom`, so this is never reached.
#[cfg(not(feature = "kernels"))]
#[allow(clippy::too_many_arguments)]
pub fn decode_attention(_qkv: Tensor<3>, _norm: &Tensor<2>, _rope: &(Tensor<2>, Tensor<2>), _position: Tensor<1, Int>, _k: Tensor<4>, _v: Tensor<4>, _eps: f64) -> (Tensor<3>, Tensor<4>, Tensor<4>) {
    unreachable!("custom kernels are not compiled in")
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

/// A gated pair's weight `[in, 2 n]` (`n` gate columns, then `n` up columns) as the rows the
/// kernel's SwiGLU epilogue reads (`gemv::Fused::glu`): `gate 0, up 0, gate 1, up 1, ...`,
/// `[2 n, in]`, contiguous, made once at load.
pub fn pair_rows_of(weight: &Tensor<2>) -> Tensor<2> {
    let [width, out] = weight.dims();
    let pairs = weight.clone().reshape([width, 2, out / 2]).swap_dims(1, 2).reshape([width, out]);
    rows_of(&pairs)
}

/// `weight` `[in, out]` as the contiguous row-major `[out, in]` the kernel reads, made once at load
/// (through the host: a transposed view would be read with a stride of `out` elements).
pub fn rows_of(weight: &Tensor<2>) -> Tensor<2> {
    let rows = weight.clone().transpose();
    let (device, dtype) = (rows.device(), rows.dtype());
    Tensor::from_data(rows.into_data(), (&device, dtype))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn pair_rows_put_each_gate_row_before_its_up_row() {
        // [in = 2, 2 n = 4]: gate columns g0 g1, then up columns u0 u1.
        let device = Device::flex();
        let weight = Tensor::<1>::from_floats([1.0, 2.0, 10.0, 20.0, 3.0, 4.0, 30.0, 40.0], &device).reshape([2, 4]);
        let rows: Vec<f32> = pair_rows_of(&weight).into_data().iter::<f32>().collect();
        // Rows g0, u0, g1, u1, each the column's two inputs.
        assert_eq!(rows, vec![1.0, 3.0, 10.0, 30.0, 2.0, 4.0, 20.0, 40.0]);
    }
}
