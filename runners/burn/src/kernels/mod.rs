//! Hand-written CubeCL kernels for batch-1 decode steps (`--kernels custom`), next to Burn's own
//! operations (`--kernels burn`, the default). Each kernel is a Burn backend extension
//! (`#[backend_extension]`, as in Burn's `examples/custom-cubecl-kernel`): implemented once for
//! any CubeCL runtime (CUDA, Vulkan, Metal) and once for Burn's `Fusion` wrapper, where it is
//! recorded as a custom operation so that fusion and the decode graph carry it like any other op.
//! See README.md, "Custom kernels".

pub mod attention_plan;
#[cfg(feature = "kernels")]
pub mod bench;
#[cfg(feature = "kernels")]
pub mod decode_attention;
#[cfg(feature = "kernels")]
mod extension;
#[cfg(feature = "kernels")]
pub mod gemv;
pub mod launch;
#[cfg(feature = "kernels")]
mod plane;
#[cfg(feature = "kernels")]
pub mod rms_norm;

#[cfg(feature = "kernels")]
mod ops;
#[cfg(not(feature = "kernels"))]
#[path = "absent.rs"]
mod ops;

pub use attention_plan::{AttentionPlan, SPLIT_FROM};
pub use ops::{attention_plan, decode_attention, gemv, rms_norm};

use burn::tensor::{Int, Tensor};

/// How much `--bench-kernels` times (`kernels/bench.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchSize {
    /// 64 products per timed run, 30 runs.
    Full,
    /// `--bench-kernels-quick`: 2 products, 1 run; a correctness pass small enough for a software
    /// Vulkan device (lavapipe).
    Quick,
}

/// A product's third input as the model holds it ([`gemv`]).
#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
pub enum Third<'a> {
    Neither,
    /// Added to the output: the residual connection, `[1, 1, out]`.
    Residual(Tensor<3>),
    /// The input's RMSNorm weight `[1, in]` and eps: the product's input is the normalised `x`.
    Norm(&'a Tensor<2>, f64),
}


/// What every layer's [`decode_attention`] of one decode step shares: the position `[1]` (device
/// data: a captured graph replays it), the whole RoPE tables `[positions, head_dim]` (the kernel
/// reads the row of the position itself) and the decoder's plan.
#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
pub struct AttentionStep {
    pub position: Tensor<1, Int>,
    pub cos: Tensor<2>,
    pub sin: Tensor<2>,
    pub plan: AttentionPlan,
}

/// Which of this runner's kernels replace Burn's operations (`--kernels`): a set, named by its parts
/// joined with `+` (`gemv+norm`), `burn` for none and `custom` for all of them but `rows`
/// (`custom+rows` adds it).
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
    /// The attention kernel's walk over a long cache split over several cubes per KV head, with a
    /// combine launch ([`decode_attention::Split`]), up to the model's whole window; without it
    /// one cube per KV head, for caches up to its shared-memory bound; needs `attention`.
    pub split: bool,
    /// One weight layout per linear layer: the kernel's `[out, in]` rows (read from the checkpoint
    /// as stored) also serve Burn's product in passes of several tokens (prefill), as `W · xᵀ`, and
    /// Burn's `[in, out]` copy is not kept; without it a layer on `gemv` holds both. Saves the
    /// second copy of every untied linear weight; prefill on the rows was slower on the CPU, not yet
    /// timed on a GPU (README, "One weight layout"). Needs `gemv`; not part of `custom`.
    pub rows: bool,
}

impl Kernels {
    /// Burn's own operations throughout (the default).
    pub const BURN: Self = Self { gemv: false, norm: false, attention: false, fuse: false, prenorm: false, split: false, rows: false };
    /// Every kernel of this runner, in Burn's and the kernel's weight layouts (`rows` off).
    pub const CUSTOM: Self = Self { gemv: true, norm: true, attention: true, fuse: true, prenorm: true, split: true, rows: false };

    /// `burn`, or parts joined with `+`: `gemv`, `norm`, `attention`, `fuse`, `prenorm` and `rows`
    /// (these three with `gemv`), `split` (with `attention`), and `custom`, which stands for all of
    /// them but `rows` (`custom` alone, or `custom+rows`).
    pub fn parse(name: &str) -> Result<Self, String> {
        if name == "burn" {
            return Ok(Self::BURN);
        }
        let mut kernels = Self::BURN;
        for part in name.split('+') {
            let flag = match part {
                "custom" => {
                    let rows = kernels.rows;
                    kernels = Self { rows, ..Self::CUSTOM };
                    continue;
                }
                "gemv" => &mut kernels.gemv,
                "norm" => &mut kernels.norm,
                "attention" => &mut kernels.attention,
                "fuse" => &mut kernels.fuse,
                "prenorm" => &mut kernels.prenorm,
                "split" => &mut kernels.split,
                "rows" => &mut kernels.rows,
                other => return Err(format!("unknown kernels {other:?} (burn, custom, or parts joined with +: custom, gemv, norm, attention, fuse, prenorm, split, rows)")),
            };
            *flag = true;
        }
        for (part, on) in [("fuse", kernels.fuse), ("prenorm", kernels.prenorm)] {
            if on && !kernels.gemv {
                return Err(format!("kernels \"{part}\" folds work into the matrix-vector kernel: add gemv (gemv+{part})"));
            }
        }
        if kernels.rows && !kernels.gemv {
            return Err("kernels \"rows\" keeps only the matrix-vector kernel's weight layout: add gemv (gemv+rows)".into());
        }
        if kernels.split && !kernels.attention {
            return Err("kernels \"split\" splits the attention kernel's walk: add attention (attention+split)".into());
        }
        Ok(kernels)
    }

    /// The parts in a fixed order: their name, whether the set has them, what they replace.
    fn parts(self) -> [(&'static str, bool, &'static str); 7] {
        [
            ("gemv", self.gemv, "the decode step's matrix-vector products"),
            ("norm", self.norm, "RMSNorm"),
            ("attention", self.attention, "the decode step's attention (q/k norm, RoPE, cache write, softmax, values)"),
            ("fuse", self.fuse, "the residual adds and SwiGLU inside the products"),
            ("prenorm", self.prenorm, "the residual stream's RMSNorm inside the products"),
            ("split", self.split, "the attention's walk over long caches split over the multiprocessors"),
            ("rows", self.rows, "one weight layout (the kernel's [out, in] rows also serve prefill; Burn's [in, out] copy not kept)"),
        ]
    }

    /// The name [`Kernels::parse`] reads back: `burn`, `custom`, `custom+rows`, or the parts in a
    /// fixed order.
    pub fn name(self) -> String {
        if self == Self::BURN {
            return "burn".into();
        }
        let on = |k: Self| k.parts().into_iter().filter(|(_, on, _)| *on).map(|(part, _, _)| part).collect::<Vec<_>>();
        let mut names = on(self);
        if (Self { rows: false, ..self }) == Self::CUSTOM {
            let custom = on(Self::CUSTOM);
            names.retain(|part| !custom.contains(part));
            names.insert(0, "custom");
        }
        names.join("+")
    }

    /// `ready.notes`' entry (the report's notes column): the set and what it replaces.
    pub fn describe(self) -> String {
        if self == Self::BURN {
            return "kernels=burn (Burn's own operations)".into();
        }
        let replaced: Vec<&str> = self.parts().iter().filter(|(_, on, _)| *on).map(|(_, _, what)| *what).collect();
        format!("kernels={}: this runner's CubeCL kernels for {}", self.name(), replaced.join(", "))
    }

    /// `Err` if `backend` cannot run this set (checked once, before the model loads with it).
    pub fn check(self, backend: &str) -> Result<(), String> {
        if self == Self::BURN {
            return Ok(());
        }
        if !cfg!(feature = "kernels") {
            return Err(format!("--kernels {}: this binary was built without a CubeCL backend (cuda, wgpu, metal)", self.name()));
        }
        if !matches!(backend, "cuda" | "wgpu" | "metal") {
            return Err(format!("--kernels {}: the kernels are CubeCL kernels; backend {backend} is not a CubeCL backend (cuda, wgpu, metal)", self.name()));
        }
        Ok(())
    }
}

/// A gated pair's weight `[in, 2 n]` (`n` gate columns, then `n` up columns) as the rows the
/// kernel's SwiGLU epilogue reads (`gemv::Fused::glu`): `gate 0, up 0, gate 1, up 1, ...`,
/// `[2 n, in]`, contiguous, made once at load (without `rows`: the kernel's copy beside Burn's).
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

/// With `rows`: a gated pair's weights as the rows the kernel's SwiGLU epilogue reads
/// (`gemv::Fused::glu`): the gate's rows `[n, in]` and the up projection's `[n, in]` in pairs,
/// `gate 0, up 0, gate 1, up 1, ...`, `[2 n, in]`, contiguous, made once at load.
pub fn pair_rows(gate: Tensor<2>, up: Tensor<2>) -> Tensor<2> {
    let [n, width] = gate.dims();
    Tensor::stack::<3>(vec![gate, up], 1).reshape([2 * n, width])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn pair_rows_of_columns_put_each_gate_row_before_its_up_row() {
        // [in = 2, 2 n = 4]: gate columns g0 g1, then up columns u0 u1.
        let device = Device::flex();
        let weight = Tensor::<1>::from_floats([1.0, 2.0, 10.0, 20.0, 3.0, 4.0, 30.0, 40.0], &device).reshape([2, 4]);
        let rows: Vec<f32> = pair_rows_of(&weight).into_data().iter::<f32>().collect();
        // Rows g0, u0, g1, u1, each the column's two inputs.
        assert_eq!(rows, vec![1.0, 3.0, 10.0, 30.0, 2.0, 4.0, 20.0, 40.0]);
    }

    #[test]
    fn pair_rows_put_each_gate_row_before_its_up_row() {
        // [n = 2, in = 2]: gate rows g0 g1, up rows u0 u1.
        let device = Device::flex();
        let gate = Tensor::<1>::from_floats([1.0, 3.0, 2.0, 4.0], &device).reshape([2, 2]);
        let up = Tensor::<1>::from_floats([10.0, 30.0, 20.0, 40.0], &device).reshape([2, 2]);
        let rows: Vec<f32> = pair_rows(gate, up).into_data().iter::<f32>().collect();
        // Rows g0, u0, g1, u1.
        assert_eq!(rows, vec![1.0, 3.0, 10.0, 30.0, 2.0, 4.0, 20.0, 40.0]);
    }
}
