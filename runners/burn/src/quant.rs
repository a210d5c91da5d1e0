//! `--quant q8|q4`: the linear layers' weights quantized with Burn's own quantization
//! (`Tensor::quantize_dynamic`), fixed at load. Embeddings, norms and the tied LM head (the
//! embedding table) stay in the run dtype.
//!
//! The scheme is symmetric with one f32 scale per block of [`BLOCK`] weights along the input axis
//! (the product's reduction axis, as GGUF and MLX group them). The weight is quantized as PyTorch
//! stores it, `[out, in]` rows, so a block runs along the last axis: CubeCL's quantization packs
//! values along the last axis and refuses a block whose last extent is not a multiple of 4 (Burn's
//! `[in, out]` layout would need `[32, 1]` blocks; README, "Quantization"). A quantized weight
//! stays a Burn tensor; the layer's `W · xᵀ` (src/nn/linear.rs, `Weight::Rows`) reaches the
//! backend's `q_matmul`. On burn-flex (`cpu`) and burn-ndarray that is Burn's default: the whole
//! weight is dequantized to the activation dtype on every call, then multiplied in float, so the
//! weights take less memory at rest and each product costs a dequantization on top. Burn's
//! CubeCL backends pass the quantized weight to their matmul kernels instead.

use burn::tensor::Tensor;
use burn::tensor::quantization::{QuantScheme, QuantValue, ScaleDtype};

/// Weights per scale, along the input axis.
pub const BLOCK: usize = 32;

/// How the linear layers' weights are stored (CLI `--quant`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightQuant {
    /// In the run dtype (`--dtype`), as loaded.
    None,
    /// 8-bit symmetric (`QuantValue::Q8S`), per block.
    Q8,
    /// 4-bit symmetric (`QuantValue::Q4S`), per block.
    Q4,
}

impl WeightQuant {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "none" => Ok(Self::None),
            "q8" => Ok(Self::Q8),
            "q4" => Ok(Self::Q4),
            other => Err(format!("--quant must be none, q8 or q4, got {other:?}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Q8 => "q8",
            Self::Q4 => "q4",
        }
    }

    /// `ready.notes`' entry.
    pub fn describe(self) -> String {
        match self {
            Self::None => "quant=none".into(),
            q => format!("quant={}: linear weights in Burn's {:?}, one f32 scale per {BLOCK} inputs of an [out, in] row; embeddings, norms and a tied LM head unquantized", q.name(), q.value().unwrap()),
        }
    }

    fn value(self) -> Option<QuantValue> {
        match self {
            Self::None => None,
            Self::Q8 => Some(QuantValue::Q8S),
            Self::Q4 => Some(QuantValue::Q4S),
        }
    }

    /// Burn's scheme for an `[out, in]` weight: blocks of [`BLOCK`] along `in`, the last axis.
    pub fn scheme(self) -> Option<QuantScheme> {
        self.value().map(|value| QuantScheme::default().with_value(value).per_block([1, BLOCK as u8], ScaleDtype::F32))
    }

    /// `rows` (`[out, in]`) quantized, or as they are for [`WeightQuant::None`]. `Err` where `in`
    /// is not a whole number of blocks.
    pub fn apply(self, name: &str, rows: Tensor<2>) -> Result<Tensor<2>, String> {
        let Some(scheme) = self.scheme() else { return Ok(rows) };
        let in_features = rows.dims()[1];
        if !in_features.is_multiple_of(BLOCK) {
            return Err(format!("--quant {}: {name} has {in_features} inputs, not a multiple of the block ({BLOCK})", self.name()));
        }
        Ok(rows.quantize_dynamic(&scheme))
    }
}

#[cfg(all(test, feature = "cpu"))]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn names_parse_and_round_trip() {
        for q in [WeightQuant::None, WeightQuant::Q8, WeightQuant::Q4] {
            assert_eq!(WeightQuant::parse(q.name()), Ok(q));
        }
        assert!(WeightQuant::parse("q2").unwrap_err().starts_with("--quant"));
        assert!(WeightQuant::Q4.describe().starts_with("quant=q4: linear weights in Burn's Q4S"));
    }

    /// A product with a quantized weight stays within the scheme's rounding of the float one:
    /// each weight is off by at most half a step (`scale / 2`, scale = block max / 127 or / 7).
    #[test]
    fn quantized_product_is_close_to_the_float_one() {
        let device = Device::flex();
        let (inputs, outputs) = (64, 8);
        let weights: Vec<f32> = (0..inputs * outputs).map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * if i % 7 == 0 { 3.0 } else { 1.0 }).collect();
        let x: Vec<f32> = (0..inputs).map(|i| (i % 5) as f32 / 4.0 - 0.5).collect();
        // `[out, in]` rows, read as `W · x` as the layer does.
        let rows = Tensor::<2>::from_data(TensorData::new(weights, [outputs, inputs]), &device);
        let x = Tensor::<2>::from_data(TensorData::new(x, [inputs, 1]), &device);
        let want: Vec<f32> = rows.clone().matmul(x.clone()).into_data().iter::<f32>().collect();
        let l1_x: f32 = x.clone().abs().sum().into_scalar();
        for (quant, levels) in [(WeightQuant::Q8, 127.0), (WeightQuant::Q4, 7.0)] {
            let quantized = quant.apply("w", rows.clone()).unwrap();
            let got: Vec<f32> = quantized.matmul(x.clone()).into_data().iter::<f32>().collect();
            // The largest weight is 3, so no block's half-step exceeds 3 / levels / 2.
            let bound = l1_x * 3.0 / levels / 2.0;
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= bound, "{quant:?}: {g} vs {w} (bound {bound})");
            }
            assert_ne!(got, want, "{quant:?}: the weight was not quantized");
        }
        let err = WeightQuant::Q8.apply("w", Tensor::<2>::zeros([8, 48], &device)).unwrap_err();
        assert_eq!(err, "--quant q8: w has 48 inputs, not a multiple of the block (32)");
    }
}
