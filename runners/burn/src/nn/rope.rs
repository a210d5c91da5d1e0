use burn::tensor::{DType, Device, Int, Tensor, TensorData};

/// Precomputed rotary tables, `[max_positions, head_dim]`, non-interleaved ("rotate_half").
pub struct Rope {
    cos: Tensor<2>,
    sin: Tensor<2>,
    /// `rotate_half` as a `[head_dim, head_dim]` matrix of 0 and ±1 (exact in every dtype):
    /// one matrix product instead of two slices, a negation and a concatenation.
    rotate_half: Tensor<2>,
}

/// cos and sin tables on the host, computed in f32 as Hugging Face does:
/// `inv_freq[i] = 1 / theta^(2i / head_dim)`, angle = position * inv_freq, each half repeated.
pub fn rope_tables(head_dim: usize, theta: f64, positions: usize) -> (Vec<f32>, Vec<f32>) {
    let half = head_dim / 2;
    let inv_freq: Vec<f32> = (0..half)
        .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head_dim as f32))
        .collect();
    let mut cos = Vec::with_capacity(positions * head_dim);
    let mut sin = Vec::with_capacity(positions * head_dim);
    for position in 0..positions {
        for _half in 0..2 {
            for &f in &inv_freq {
                let angle = position as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
    }
    (cos, sin)
}

impl Rope {
    pub fn new(head_dim: usize, theta: f64, positions: usize, device: &Device, dtype: DType) -> Self {
        let (cos, sin) = rope_tables(head_dim, theta, positions);
        let table = |values: Vec<f32>| {
            Tensor::<2>::from_data(TensorData::new(values, [positions, head_dim]), (device, DType::F32)).cast(dtype)
        };
        let half = head_dim / 2;
        let mut rotate = vec![0f32; head_dim * head_dim];
        for j in 0..half {
            rotate[(j + half) * head_dim + j] = -1.0; // out[j] = -x[j + half]
            rotate[j * head_dim + j + half] = 1.0; // out[j + half] = x[j]
        }
        let rotate_half = Tensor::<2>::from_data(TensorData::new(rotate, [head_dim, head_dim]), (device, DType::F32)).cast(dtype);
        Self { cos: table(cos), sin: table(sin), rotate_half }
    }

    /// The cos and sin tables, `[max_positions, head_dim]` each (for the decode attention kernel,
    /// which indexes them at the step's position itself).
    pub fn tables(&self) -> (Tensor<2>, Tensor<2>) {
        (self.cos.clone(), self.sin.clone())
    }

    /// The angles of one position given as a device tensor `[1]` (decode steps).
    pub fn at(&self, positions: Tensor<1, Int>) -> RopeAngles {
        self.angles(self.cos.clone().select(0, positions.clone()), self.sin.clone().select(0, positions))
    }

    /// The angles of `len` consecutive positions from `offset` (prefill).
    pub fn range(&self, offset: usize, len: usize) -> RopeAngles {
        self.angles(self.cos.clone().narrow(0, offset, len), self.sin.clone().narrow(0, offset, len))
    }

    fn angles(&self, cos: Tensor<2>, sin: Tensor<2>) -> RopeAngles {
        RopeAngles { cos: cos.unsqueeze::<4>(), sin: sin.unsqueeze::<4>(), rotate_half: self.rotate_half.clone().unsqueeze::<4>() }
    }
}

/// cos and sin at the positions of one forward pass, `[1, 1, L, head_dim]`, with the
/// `rotate_half` matrix, shared by every layer's queries and keys.
pub struct RopeAngles {
    cos: Tensor<4>,
    sin: Tensor<4>,
    rotate_half: Tensor<4>,
}

impl RopeAngles {
    /// Rotates `x` (`[1, heads, L, head_dim]`): `x * cos + rotate_half(x) * sin`.
    pub fn rotate(&self, x: Tensor<4>) -> Tensor<4> {
        let rotated = x.clone().matmul(self.rotate_half.clone());
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_table_matches_hand_computed_angles() {
        // head_dim 4, theta 10000: inv_freq = [1, 10000^-0.5 = 0.01]; halves repeat.
        let (cos, sin) = rope_tables(4, 10_000.0, 3);
        let row = |t: &[f32], p: usize| t[p * 4..p * 4 + 4].to_vec();
        assert_eq!(row(&cos, 0), vec![1.0, 1.0, 1.0, 1.0]);
        let expected_cos = [2.0f32.cos(), 0.02f32.cos(), 2.0f32.cos(), 0.02f32.cos()];
        let expected_sin = [2.0f32.sin(), 0.02f32.sin(), 2.0f32.sin(), 0.02f32.sin()];
        for (got, want) in row(&cos, 2).iter().zip(expected_cos).chain(row(&sin, 2).iter().zip(expected_sin)) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[cfg(feature = "cpu")]
    #[test]
    fn rope_rotates_halves_like_rotate_half() {
        let device = Device::flex();
        let rope = Rope::new(4, 10_000.0, 3, &device, DType::F32);
        let x = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 1, 4]), (&device, DType::F32));
        let y: Vec<f32> = rope.range(1, 1).rotate(x).into_data().iter::<f32>().collect();
        // position 1: angles [1, 0.01]; out = [x1 c - x3 s, x2 c' - x4 s', x3 c + x1 s, x4 c' + x2 s']
        let (c0, s0, c1, s1) = (1f32.cos(), 1f32.sin(), 0.01f32.cos(), 0.01f32.sin());
        let want = [1.0 * c0 - 3.0 * s0, 2.0 * c1 - 4.0 * s1, 3.0 * c0 + 1.0 * s0, 4.0 * c1 + 2.0 * s1];
        for (got, want) in y.iter().zip(want) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
    }
}
