//! Batch-1 matrix-vector product `y = W x` for decode steps, written in CubeCL.
//!
//! `W` is `[out, in]`, row-major (PyTorch's `Linear` layout, laid out once at load): each output
//! row is one contiguous run of `in` values, so one plane (a warp on CUDA, a subgroup on Vulkan
//! and Metal) reads it with consecutive lanes loading consecutive 16-byte vectors, accumulates
//! the products in f32 registers and sums its lanes with one plane reduction. Each lane's loads
//! are unrolled (the row width is a compile-time value) so that all of them are in flight before
//! the first multiply. A cube holds several planes, one row each.
//!
//! Burn's own matmul at m = 1 reads `W` as `[in, out]` and accumulates in f16, on grids too small
//! to fill the GPU (docs/results/h200-2026-11-26/NOTES.md, "Burn's kernels one by one").

use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::{DType, Shape};
use burn_cubecl::{CubeRuntime, kernel::into_contiguous, ops::numeric::empty_device_contiguous_dtype, tensor::CubeTensor};
use cubecl::num_traits::Zero;
use cubecl::prelude::*;
use cubecl::ir::features::Plane;

/// Planes (output rows) per cube when the matrix has many rows.
const ROWS_PER_CUBE_WIDE: u32 = 8;
/// Planes per cube for narrow outputs (1024 rows here), so the rows spread over more cubes than
/// the GPU has multiprocessors.
const ROWS_PER_CUBE_NARROW: u32 = 4;
/// Outputs at or under this many rows use [`ROWS_PER_CUBE_NARROW`].
const NARROW_ROWS: usize = 4096;

/// One plane per output row: `out[row] = sum_k w[row, k] * x[k]`, accumulated in f32.
///
/// `x` and each row of `w` are read as `k_vectors` vectors of `N` elements; `plane` is the plane
/// width the cube was launched with (`CUBE_DIM_X`), so lane `UNIT_POS_X` reads vectors
/// `lane, lane + plane, ...` of its row: a plane's loads are contiguous.
///
/// Two fusions, each a compile-time switch: with `swiglu`, `x` holds a gate and an up projection
/// side by side (`2 * k_vectors` vectors) and the product's input is `silu(gate) * up`, computed
/// as it is loaded (silu in f32 rounded to the dtype, then the product in the dtype: PyTorch's
/// f16 arithmetic); with `add_residual`, `residual[row]` is added to the rounded result in the
/// dtype (the residual connection's add, which otherwise is a kernel of its own).
#[cube(launch_unchecked)]
pub fn gemv_rows_kernel<F: Float, N: Size>(
    x: &Tensor<Vector<F, N>>,
    w: &Tensor<Vector<F, N>>,
    residual: &Tensor<F>,
    out: &mut Tensor<F>,
    #[comptime] k_vectors: usize,
    #[comptime] plane: usize,
    #[comptime] swiglu: bool,
    #[comptime] add_residual: bool,
    #[define(F)] _dtype: ElemType,
) {
    let row = (CUBE_POS_X * CUBE_DIM_Y + UNIT_POS_Y) as usize;
    // A whole plane shares its row, so it leaves together and the plane sum below sees all lanes.
    if row >= out.len() {
        terminate!();
    }
    let lane = UNIT_POS_X as usize;
    let base = row * k_vectors;
    let mut acc = Vector::<f32, N>::zero();
    let full_steps = comptime!(k_vectors / plane);
    #[unroll]
    for step in 0..full_steps {
        let k = step * plane + lane;
        acc += Vector::<f32, N>::cast_from(w[base + k]) * input::<F, N>(x, k, k_vectors, swiglu);
    }
    if comptime!(k_vectors % plane != 0) {
        let k = full_steps * plane + lane;
        if k < k_vectors {
            acc += Vector::<f32, N>::cast_from(w[base + k]) * input::<F, N>(x, k, k_vectors, swiglu);
        }
    }
    let total = plane_sum(sum_lanes::<N>(acc));
    if lane == 0 {
        let mut y = F::cast_from(total);
        if comptime!(add_residual) {
            y += residual[row];
        }
        out[row] = y;
    }
}

/// The sum of a vector's lanes, one by one: CubeCL 0.11.0-pre.3's SPIR-V compiler (wgpu on
/// Vulkan) panics on `Vector::vector_sum` of an 8-wide vector (its unroll pass does not take
/// `vector.f_sum`); extracting the lanes compiles everywhere.
#[cube]
pub fn sum_lanes<N: Size>(v: Vector<f32, N>) -> f32 {
    let lanes = v.vector_size();
    let mut total = f32::new(0.0);
    #[unroll]
    for i in 0..lanes {
        total += v.extract(i);
    }
    total
}

/// Input vector `k` of the product, in f32: `x[k]`, or with `swiglu` `silu(x[k]) * x[k + k_vectors]`.
#[cube]
fn input<F: Float, N: Size>(x: &Tensor<Vector<F, N>>, k: usize, #[comptime] k_vectors: usize, #[comptime] swiglu: bool) -> Vector<f32, N> {
    let mut value = Vector::<f32, N>::cast_from(x[k]);
    if comptime!(swiglu) {
        let one = Vector::<f32, N>::new(f32::new(1.0));
        let silu = Vector::<F, N>::cast_from(value / (one + Vector::exp(-value)));
        value = Vector::<f32, N>::cast_from(silu * x[k + k_vectors]);
    }
    value
}

/// The widest vector (in elements, at most 16 bytes) that divides `in_features`.
pub fn vector_width(in_features: usize, dtype: DType) -> usize {
    vector_width_bytes(in_features, dtype.size())
}

/// [`vector_width`] for elements of `elem_bytes` bytes.
pub fn vector_width_bytes(in_features: usize, elem_bytes: usize) -> usize {
    let max = 16 / elem_bytes;
    (0..=max.trailing_zeros()).map(|p| max >> p).find(|w| in_features % w == 0).unwrap_or(1)
}

/// The plane width to launch with, or why the device cannot run the kernel: plane operations and
/// one fixed plane size are required (NVIDIA and Apple GPUs have one; some Vulkan drivers vary it).
pub fn plane_width<R: CubeRuntime>(client: &ComputeClient<R>) -> Result<u32, String> {
    let properties = client.properties();
    if !properties.features.plane.contains(Plane::Ops) {
        return Err("the device has no plane (warp/subgroup) operations".into());
    }
    let hardware = &properties.hardware;
    if hardware.plane_size_min != hardware.plane_size_max {
        return Err(format!("the device's plane size varies ({}..{})", hardware.plane_size_min, hardware.plane_size_max));
    }
    Ok(hardware.plane_size_max)
}

/// `x` `[.., in]` (one row: every leading axis is 1) times `w_rows` `[out, in]` -> `[.., out]`.
pub fn gemv_rows<R: CubeRuntime>(x: CubeTensor<R>, w_rows: CubeTensor<R>) -> CubeTensor<R> {
    launch(x, w_rows, None, false)
}

/// `residual + x · w_rowsᵀ`, or with `swiglu` (`x` `[.., 2 in]`, gate then up)
/// `residual + (silu(gate) * up) · w_rowsᵀ`, in one launch; `residual` is `[.., out]`.
pub fn gemv_rows_add<R: CubeRuntime>(x: CubeTensor<R>, w_rows: CubeTensor<R>, residual: CubeTensor<R>, swiglu: bool) -> CubeTensor<R> {
    launch(x, w_rows, Some(residual), swiglu)
}

fn launch<R: CubeRuntime>(x: CubeTensor<R>, w_rows: CubeTensor<R>, residual: Option<CubeTensor<R>>, swiglu: bool) -> CubeTensor<R> {
    x.assert_is_on_same_device(&w_rows);
    let x_shape = x.meta.shape().clone();
    let rank = x_shape.num_dims();
    let x_features = x_shape[rank - 1];
    assert_eq!(x_shape.num_elements(), x_features, "gemv_rows: x must hold one row, got shape {x_shape:?}");
    let in_features = if swiglu { x_features / 2 } else { x_features };
    let [out_features, w_in] = [w_rows.meta.shape()[0], w_rows.meta.shape()[1]];
    assert_eq!(w_in, in_features, "gemv_rows: x has {in_features} features (swiglu: {swiglu}), the weight {w_in}");
    assert_eq!(x.dtype, w_rows.dtype, "gemv_rows: x and the weight differ in dtype");
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
    let add_residual = residual.is_some();
    // Without a residual the kernel never reads that argument: any buffer of the dtype will do.
    let residual = residual.map(into_contiguous).unwrap_or_else(|| out.clone());

    let plane = plane_width(&x.client).unwrap_or_else(|e| panic!("gemv_rows: this device cannot run the kernel: {e}"));
    let width = vector_width(in_features, dtype);
    let rows_per_cube = if out_features <= NARROW_ROWS { ROWS_PER_CUBE_NARROW } else { ROWS_PER_CUBE_WIDE };
    let cube_dim = CubeDim::new_2d(plane, rows_per_cube);
    let cube_count = CubeCount::Static((out_features as u32).div_ceil(rows_per_cube), 1, 1);
    // SAFETY: every index is in bounds: rows past `out_features` leave first, and each row reads
    // `k_vectors` vectors of a contiguous `[out, in]` buffer (`in = k_vectors * width`), `x` as
    // many (twice as many with swiglu) and the residual one element per row.
    unsafe {
        gemv_rows_kernel::launch_unchecked::<R>(
            &out.client,
            cube_count,
            cube_dim,
            width,
            x.into_tensor_arg(),
            w_rows.into_tensor_arg(),
            residual.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            in_features / width,
            plane as usize,
            swiglu,
            add_residual,
            dtype_to_storage_type(dtype),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_width_is_the_widest_divisor_up_to_16_bytes() {
        assert_eq!(vector_width(1024, DType::F16), 8);
        assert_eq!(vector_width(1024, DType::F32), 4);
        assert_eq!(vector_width(12, DType::F16), 4);
        assert_eq!(vector_width(7, DType::F16), 1);
        assert_eq!(vector_width(6, DType::F32), 2);
    }
}
