//! Batch-1 matrix-vector product `y = W x` for decode steps, written in CubeCL.
//!
//! `W` is `[out, in]`, row-major (PyTorch's `Linear` layout, laid out once at load): each output
//! row is one contiguous run of `in` values, so one plane (a warp on CUDA, a subgroup on Vulkan
//! and Metal) reads it with consecutive lanes loading consecutive 16-byte vectors, accumulates
//! the products in f32 registers and sums its lanes with one plane reduction. Each lane's loads
//! are unrolled (the row width is a compile-time value) so that all of them are in flight before
//! the first multiply. A cube holds one or more rows ([`Layout`]), each on one plane or split over
//! several whose partial sums meet in shared memory; the input's RMSNorm, SwiGLU over gate/up row
//! pairs and the residual add can ride in the same launch ([`gemv_rows_kernel`]).
//!
//! Burn's own matmul at m = 1 reads `W` as `[in, out]` and accumulates in f16, on grids too small
//! to fill the GPU (docs/results/2026-11-26-h200-decode-graph/NOTES.md, "Burn's kernels one by one").

use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::{Backend, ExtensionType, tensor::FloatTensor};
use burn::tensor::Shape;
use burn_cubecl::{CubeBackend, CubeRuntime, kernel::into_contiguous, ops::numeric::empty_device_contiguous_dtype, tensor::CubeTensor};
use cubecl::num_traits::Zero;
use cubecl::prelude::*;
use super::launch::{plane_width, vector_width};
use super::plane::{rms_scale, sum_lanes};

/// How a launch lays the rows out: `rows` rows per cube, each row's dot product split over `split`
/// planes (each a contiguous share of the row's vectors, the shares' sums added in order through
/// shared memory). `--bench-kernels` times several on each shape ([`Layout::CANDIDATES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub rows: u32,
    pub split: u32,
}

impl Layout {
    /// The layouts `--bench-kernels` compares on every shape.
    pub const CANDIDATES: [Layout; 7] = [
        Layout { rows: 8, split: 1 },
        Layout { rows: 4, split: 1 },
        Layout { rows: 2, split: 1 },
        Layout { rows: 1, split: 1 },
        Layout { rows: 2, split: 2 },
        Layout { rows: 1, split: 4 },
        Layout { rows: 4, split: 2 },
    ];

    /// The layout the decode step uses for `out` rows of `in_vectors` vectors, from
    /// `--bench-kernels`' comparison on the H200
    /// (docs/results/2026-11-29-h200-kernels-prenorm-vulkan/kernels): one row a cube for the layer
    /// products with up to 4096 outputs (q/k/v 6.3 µs against 7.2 with four,
    /// o 3.8 against 7.2), two for gate/up (6.9 against 7.0), and for the LM head four rows a cube
    /// of two planes each (71.6 µs against 78.5 with eight rows of one plane). Where a row's
    /// vectors do not split over two planes, one plane a row.
    pub fn for_shape(in_vectors: usize, out: usize, plane: usize) -> Self {
        let layout = match out {
            ..=4096 => Layout { rows: 1, split: 1 },
            ..=8192 => Layout { rows: 2, split: 1 },
            _ => Layout { rows: 4, split: 2 },
        };
        if layout.fits(in_vectors, plane) { layout } else { Layout { split: 1, ..layout } }
    }

    /// Whether a row of `in_vectors` vectors splits evenly over this layout's planes.
    pub fn fits(self, in_vectors: usize, plane: usize) -> bool {
        in_vectors.div_ceil(plane) % self.split as usize == 0
    }

    pub fn name(self) -> String {
        format!("rows={},split={}", self.rows, self.split)
    }
}

/// One plane (or `split` planes) per output row: `out[row] = sum_k w[row, k] * x[k]`,
/// accumulated in f32.
///
/// `x` and each row of `w` are read as `k_vectors` vectors of `N` elements; `plane` is the plane
/// width the cube was launched with (`CUBE_DIM_X`), so lane `UNIT_POS_X` reads vectors
/// `lane, lane + plane, ...` of its row: a plane's loads are contiguous. With `split` planes per
/// row, plane `part` reads the `part`-th contiguous share of those steps.
///
/// Three fusions, each a compile-time switch: with `norm`, `x` is the residual stream and the
/// product's input its RMSNorm with weight `norm_w` (statistics computed by every plane from the
/// whole of `x` with [`super::plane::rms_scale`], so the normalised values are
/// [`super::rms_norm::rms_norm_rows_kernel`]'s bit for bit); with `glu`, the rows of `w` are gate
/// and up rows in pairs (row `2j` is gate `j`, row `2j + 1` up `j`, in the same cube) and the
/// output is SwiGLU's `silu(gate) * up`, `out_rows / 2` values: both products rounded to the
/// dtype, silu in f32 rounded to the dtype, the product in the dtype (PyTorch's f16 arithmetic);
/// with `add_residual`, `residual[row]` is added to the rounded result in the dtype (the residual
/// connection's add, which otherwise is a kernel of its own).
#[cube(launch_unchecked)]
pub fn gemv_rows_kernel<F: Float, N: Size>(
    x: &Tensor<Vector<F, N>>,
    w: &Tensor<Vector<F, N>>,
    residual: &Tensor<F>,
    norm_w: &Tensor<Vector<F, N>>,
    out: &mut Tensor<F>,
    #[comptime] out_rows: usize,
    #[comptime] k_vectors: usize,
    #[comptime] plane: usize,
    #[comptime] split: usize,
    #[comptime] glu: bool,
    #[comptime] add_residual: bool,
    #[comptime] norm: bool,
    #[comptime] inv_width_bits: u32,
    #[comptime] eps_bits: u32,
    #[define(F)] _dtype: ElemType,
) {
    let part = UNIT_POS_Y as usize % split;
    let row = (CUBE_POS_X * CUBE_DIM_Y + UNIT_POS_Y) as usize / split;
    let lane = UNIT_POS_X as usize;
    // Planes that share results meet at a cube barrier below, which every plane must reach: only
    // planes that share nothing leave early (a whole plane shares its row, so the plane sum below
    // sees all lanes).
    let active = row < out_rows;
    if comptime!(split == 1 && !glu) && !active {
        terminate!();
    }
    let steps = comptime!(k_vectors.div_ceil(plane));
    let exact = comptime!(k_vectors % plane == 0);

    // RMSNorm's statistics over the whole of `x`, rms_norm_rows_kernel's own function.
    let mut inv_rms = Vector::<f32, N>::new(f32::new(1.0));
    if comptime!(norm) {
        inv_rms = rms_scale::<F, N>(x, 0, k_vectors, plane, inv_width_bits, eps_bits);
    }

    let share = comptime!(steps / split);
    let base = row * k_vectors;
    let mut acc = Vector::<f32, N>::zero();
    if active {
        #[unroll]
        for s in 0..share {
            let k = (part * share + s) * plane + lane;
            if exact || k < k_vectors {
                acc += Vector::<f32, N>::cast_from(w[base + k]) * input::<F, N>(x, norm_w, k, norm, inv_rms);
            }
        }
    }
    let mut total = plane_sum(sum_lanes::<N>(acc));
    // The up row's sum, beside its gate row's (`glu`).
    let mut up = f32::new(0.0);
    if comptime!(split > 1 || glu) {
        // Plane y's sum at slot y: a row's planes are `split` consecutive ones, the next row's follow.
        let mut partials = Shared::<[f32]>::new_slice(comptime!(32 * split));
        if lane == 0 {
            partials[UNIT_POS_Y as usize] = total;
        }
        sync_cube();
        let first = UNIT_POS_Y as usize - part;
        if comptime!(split > 1) {
            total = f32::new(0.0);
            #[unroll]
            for p in 0..split {
                total += partials[first + p];
            }
        }
        if comptime!(glu) {
            if row % 2 == 0 {
                #[unroll]
                for p in 0..split {
                    up += partials[first + split + p];
                }
            }
        }
    }
    if active && part == 0 && lane == 0 {
        let mut y = F::cast_from(total);
        let mut at = row;
        if comptime!(glu) {
            let gate = f32::cast_from(y);
            let silu = F::cast_from(gate / (f32::new(1.0) + f32::exp(-gate)));
            y = silu * F::cast_from(up);
            at = row / 2;
        }
        if comptime!(add_residual) {
            y += residual[at];
        }
        if comptime!(!glu) || row % 2 == 0 {
            out[at] = y;
        }
    }
}

/// Input vector `k` of the product, in f32: `x[k]`, or with `norm` `F(F(x[k] * inv_rms) * norm_w[k])`
/// (RMSNorm's rounding).
#[cube]
fn input<F: Float, N: Size>(x: &Tensor<Vector<F, N>>, norm_w: &Tensor<Vector<F, N>>, k: usize, #[comptime] norm: bool, inv_rms: Vector<f32, N>) -> Vector<f32, N> {
    let mut value = Vector::<f32, N>::cast_from(x[k]);
    if comptime!(norm) {
        value = Vector::<f32, N>::cast_from(Vector::<F, N>::cast_from(value * inv_rms) * norm_w[k]);
    }
    value
}

/// What a product does besides `x · w_rowsᵀ`, all inside the one launch.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Fused {
    /// The weight's rows are gate and up rows in pairs (`kernels::pair_rows_of`, or
    /// `kernels::pair_rows` with `--kernels rows`) and the output `silu(gate) * up`, half as many
    /// values as rows.
    pub glu: bool,
    /// With a norm weight: RMSNorm of `x` with this eps is the product's input.
    pub norm_eps: Option<f32>,
    /// The launch layout; `None` for [`Layout::for_shape`].
    pub layout: Option<Layout>,
}

/// A product's tensors, the kernel's arguments spelled once for every level: the model's call
/// (`Gemv<Dispatch>`), the backend extension (`kernels/extension.rs`) and the launch below.
#[derive(ExtensionType)]
pub struct Gemv<B: Backend> {
    /// `[.., in]`, one row (every leading axis is 1).
    pub x: FloatTensor<B>,
    /// `[out, in]`, row-major; gate and up rows in pairs with [`Fused::glu`].
    pub w_rows: FloatTensor<B>,
    /// The third input, where the launch folds one in.
    #[extension_type]
    pub extra: Extra<B>,
}

/// A product's third input: none, the residual `[.., out]` added to its output, or the RMSNorm
/// weight `[1, in]` of its input (with [`Fused::norm_eps`]).
#[derive(ExtensionType)]
pub enum Extra<B: Backend> {
    Neither,
    Residual(FloatTensor<B>),
    NormWeight(FloatTensor<B>),
}

/// `x · w_rowsᵀ` -> `[.., out]` (`[.., out / 2]` of `silu(gate) * up` with `fused.glu`), plus the
/// residual or of the normalised input where `extra` gives one.
pub fn gemv_rows<R: CubeRuntime>(inputs: Gemv<CubeBackend<R>>, fused: Fused) -> CubeTensor<R> {
    let Gemv { x, w_rows, extra } = inputs;
    let (residual, norm_w) = match extra {
        Extra::Neither => (None, None),
        Extra::Residual(residual) => (Some(residual), None),
        Extra::NormWeight(norm_w) => (None, Some(norm_w)),
    };
    x.assert_is_on_same_device(&w_rows);
    let x_shape = x.meta.shape().clone();
    let rank = x_shape.num_dims();
    let in_features = x_shape[rank - 1];
    assert_eq!(x_shape.num_elements(), in_features, "gemv_rows: x must hold one row, got shape {x_shape:?}");
    let [out_rows, w_in] = [w_rows.meta.shape()[0], w_rows.meta.shape()[1]];
    assert_eq!(w_in, in_features, "gemv_rows: x has {in_features} features, the weight {w_in}");
    assert_eq!(x.dtype, w_rows.dtype, "gemv_rows: x and the weight differ in dtype");
    assert!(!fused.glu || out_rows % 2 == 0, "gemv_rows: gate and up rows come in pairs, the weight has {out_rows} rows");
    let out_features = if fused.glu { out_rows / 2 } else { out_rows };
    let dtype = x.dtype;

    let x = into_contiguous(x);
    let w_rows = into_contiguous(w_rows);
    let mut out_shape = x_shape.clone();
    out_shape[rank - 1] = out_features;
    let out = empty_device_contiguous_dtype(x.client.clone(), x.device.clone(), Shape::from(out_shape), dtype);
    if let Some(residual) = &residual {
        assert_eq!(residual.meta.shape().num_elements(), out_features, "gemv_rows: the residual is not one row of {out_features}");
        assert_eq!(residual.dtype, dtype, "gemv_rows: the residual differs in dtype");
    }
    if let Some(norm_w) = &norm_w {
        assert_eq!(norm_w.meta.shape().num_elements(), in_features, "gemv_rows: the norm weight is not one row of {in_features}");
        assert_eq!(norm_w.dtype, dtype, "gemv_rows: the norm weight differs in dtype");
    }
    let (add_residual, norm) = (residual.is_some(), norm_w.is_some());
    // An argument the kernel does not read (no residual, no norm): any buffer of the dtype will do.
    let residual = residual.map(into_contiguous).unwrap_or_else(|| out.clone());
    let norm_w = norm_w.map(into_contiguous).unwrap_or_else(|| x.clone());

    let plane = plane_width(&x.client).unwrap_or_else(|e| panic!("gemv_rows: this device cannot run the kernel: {e}"));
    let width = vector_width(in_features, dtype);
    let k_vectors = in_features / width;
    let mut layout = fused.layout.unwrap_or_else(|| Layout::for_shape(k_vectors, out_rows, plane as usize));
    if fused.glu && layout.rows % 2 == 1 {
        // A gate row and its up row share a cube.
        layout.rows *= 2;
    }
    assert!(layout.fits(k_vectors, plane as usize) && layout.rows <= 32, "gemv_rows: layout {} does not fit rows of {k_vectors} vectors", layout.name());
    let cube_dim = CubeDim::new_2d(plane, layout.rows * layout.split);
    let cube_count = CubeCount::Static((out_rows as u32).div_ceil(layout.rows), 1, 1);
    let eps = fused.norm_eps.unwrap_or(0.0);
    // SAFETY: every index is in bounds: rows past `out_rows` read and write nothing, and each row
    // reads `k_vectors` vectors of a contiguous `[out_rows, in]` buffer (`in = k_vectors * width`),
    // `x` and the norm weight as many and the residual one element per output; the planes' sums
    // index `rows * split` shared slots (`rows` <= 32), a gate row's up row is in its cube.
    unsafe {
        gemv_rows_kernel::launch_unchecked::<R>(
            &out.client,
            cube_count,
            cube_dim,
            width,
            x.into_tensor_arg(),
            w_rows.into_tensor_arg(),
            residual.into_tensor_arg(),
            norm_w.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            out_rows,
            k_vectors,
            plane as usize,
            layout.split as usize,
            fused.glu,
            add_residual,
            norm,
            (1.0 / in_features as f32).to_bits(),
            eps.to_bits(),
            dtype_to_storage_type(dtype),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_follow_the_outputs_and_split_only_where_the_row_divides() {
        // Qwen3-0.6B in f16 (vectors of 8) on planes of 32.
        assert_eq!(Layout::for_shape(128, 4096, 32), Layout { rows: 1, split: 1 });
        assert_eq!(Layout::for_shape(384, 1024, 32), Layout { rows: 1, split: 1 });
        assert_eq!(Layout::for_shape(128, 6144, 32), Layout { rows: 2, split: 1 });
        assert_eq!(Layout::for_shape(128, 151_936, 32), Layout { rows: 4, split: 2 });
        // A tiny model's 64-wide rows: one step a lane, nothing to split.
        assert_eq!(Layout::for_shape(8, 151_936, 32), Layout { rows: 4, split: 1 });
        assert!(Layout { rows: 1, split: 4 }.fits(256, 32));
        assert!(!Layout { rows: 1, split: 4 }.fits(384 / 2, 32), "6 steps do not split in 4");
    }
}
