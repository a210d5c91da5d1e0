//! What one plane (a warp, a subgroup) computes over a row, shared by the kernels: a vector's lane
//! sum and a row's RMSNorm statistics.

use cubecl::num_traits::Zero;
use cubecl::prelude::*;

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

/// `1 / sqrt(mean(x²) + eps)` of the row of `k_vectors` vectors at `base`, by one plane: lane `i`
/// sums the squares of vectors `i, i + plane, ...` in f32, then one plane sum.
/// `rms_norm_rows_kernel` and the products that take the norm inside (`gemv_rows_kernel`'s `norm`)
/// both call it, so their normalised inputs are the same bit for bit. f32 constants travel as
/// their bits: comptime values key the kernel cache, and f32 is not Eq.
#[cube]
pub fn rms_scale<F: Float, N: Size>(
    x: &Tensor<Vector<F, N>>,
    base: usize,
    #[comptime] k_vectors: usize,
    #[comptime] plane: usize,
    #[comptime] inv_width_bits: u32,
    #[comptime] eps_bits: u32,
) -> Vector<f32, N> {
    let lane = UNIT_POS_X as usize;
    let steps = comptime!(k_vectors.div_ceil(plane));
    let exact = comptime!(k_vectors % plane == 0);
    let mut squares = Vector::<f32, N>::zero();
    #[unroll]
    for step in 0..steps {
        let k = step * plane + lane;
        if exact || k < k_vectors {
            let v = Vector::<f32, N>::cast_from(x[base + k]);
            squares += v * v;
        }
    }
    let total = plane_sum(sum_lanes::<N>(squares));
    let inv_width = comptime!(f32::from_bits(inv_width_bits));
    let eps = comptime!(f32::from_bits(eps_bits));
    Vector::<f32, N>::recip(Vector::sqrt(Vector::new(total * f32::new(inv_width) + f32::new(eps))))
}
