//! RMSNorm in one kernel: `y = w * (x * rsqrt(mean(x²) + eps))` per row, written in CubeCL.
//!
//! Burn's own RMSNorm (src/nn/rms_norm.rs) is a cast, a square, a mean (a reduction), an add, a
//! square root, a reciprocal, two multiplies and a cast back: several kernels per norm after
//! fusion, three norms per layer (input, post-attention, and the per-head query/key norm). Here
//! one plane (a warp) owns one row: its lanes load consecutive 16-byte vectors, sum their squares
//! in f32, reduce across the plane, and write the scaled row, in one launch. The arithmetic is
//! Hugging Face Qwen3's: statistics in f32, the normalised row rounded to the input dtype before
//! the weight multiplies it in that dtype.

use burn::backend::cubecl::dtype_to_storage_type;
use burn_cubecl::{CubeRuntime, kernel::into_contiguous, ops::numeric::empty_device_contiguous_dtype, tensor::CubeTensor};
use cubecl::prelude::*;
use super::launch::{plane_width, vector_width};
use super::plane::rms_scale;

/// Rows (planes) per cube.
const ROWS_PER_CUBE: u32 = 4;

/// One plane per row of `k_vectors` vectors; row `r` takes weight row `r % w_rows` (one weight for
/// every row of a hidden-state norm, one per head for the query/key norm).
#[cube(launch_unchecked)]
pub fn rms_norm_rows_kernel<F: Float, N: Size>(
    x: &Tensor<Vector<F, N>>,
    w: &Tensor<Vector<F, N>>,
    out: &mut Tensor<Vector<F, N>>,
    #[comptime] rows: usize,
    #[comptime] k_vectors: usize,
    #[comptime] w_rows: usize,
    #[comptime] plane: usize,
    #[comptime] inv_width_bits: u32,
    #[comptime] eps_bits: u32,
    #[define(F)] _dtype: ElemType,
) {
    let row = (CUBE_POS_X * CUBE_DIM_Y + UNIT_POS_Y) as usize;
    // A whole plane shares its row, so it leaves together and the plane sum below sees all lanes.
    if row >= rows {
        terminate!();
    }
    let lane = UNIT_POS_X as usize;
    let base = row * k_vectors;
    let w_base = (row % w_rows) * k_vectors;
    let steps = comptime!(k_vectors.div_ceil(plane));
    let inv_rms = rms_scale::<F, N>(x, base, k_vectors, plane, inv_width_bits, eps_bits);
    #[unroll]
    for step in 0..steps {
        let k = step * plane + lane;
        if k < k_vectors {
            let normed = Vector::<F, N>::cast_from(Vector::<f32, N>::cast_from(x[base + k]) * inv_rms);
            out[base + k] = normed * w[w_base + k];
        }
    }
}

/// RMSNorm of `x` over its last axis with `weight` `[w_rows, width]` (row-major), eps as given.
pub fn rms_norm_rows<R: CubeRuntime>(x: CubeTensor<R>, weight: CubeTensor<R>, eps: f32) -> CubeTensor<R> {
    x.assert_is_on_same_device(&weight);
    let shape = x.meta.shape().clone();
    let width = shape[shape.num_dims() - 1];
    let rows = shape.num_elements() / width;
    let [w_rows, w_width] = [weight.meta.shape()[0], weight.meta.shape()[1]];
    assert_eq!(w_width, width, "rms_norm_rows: x rows have {width} values, the weight {w_width}");
    assert_eq!(rows % w_rows, 0, "rms_norm_rows: {rows} rows do not repeat the weight's {w_rows}");
    assert_eq!(x.dtype, weight.dtype, "rms_norm_rows: x and the weight differ in dtype");
    let dtype = x.dtype;

    let x = into_contiguous(x);
    let weight = into_contiguous(weight);
    let out = empty_device_contiguous_dtype(x.client.clone(), x.device.clone(), shape, dtype);

    let plane = plane_width(&x.client).unwrap_or_else(|e| panic!("rms_norm_rows: this device cannot run the kernel: {e}"));
    let vector = vector_width(width, dtype);
    let cube_dim = CubeDim::new_2d(plane, ROWS_PER_CUBE);
    let cube_count = CubeCount::Static((rows as u32).div_ceil(ROWS_PER_CUBE), 1, 1);
    // SAFETY: rows past `rows` leave first; each row reads and writes `k_vectors` vectors of
    // contiguous `[rows, width]` buffers and weight row `row % w_rows` of a contiguous `[w_rows, width]`.
    unsafe {
        rms_norm_rows_kernel::launch_unchecked::<R>(
            &out.client,
            cube_count,
            cube_dim,
            vector,
            x.into_tensor_arg(),
            weight.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            rows,
            width / vector,
            w_rows,
            plane as usize,
            (1.0 / width as f32).to_bits(),
            eps.to_bits(),
            dtype_to_storage_type(dtype),
        );
    }
    out
}
