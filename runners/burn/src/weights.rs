//! Loads the model's parameters onto the device under the checkpoint's own names: each layer's
//! `load` (src/model.rs) names its tensors, the loader reads them from the [`Checkpoint`] in the
//! run dtype, shapes them for the layer and counts the parameters.

use crate::checkpoint::{Checkpoint, Layout};
use crate::config::Qwen3Config;
use crate::kernels::Kernels;
use crate::nn::{Linear, RmsNorm, Role, joined};
use crate::quant::WeightQuant;
use burn::tensor::{DType, Device, Tensor};

pub struct WeightLoader<'a> {
    pub checkpoint: &'a Checkpoint,
    pub device: &'a Device,
    pub dtype: DType,
    /// The kernels the layers are built for (`--kernels`).
    pub kernels: Kernels,
    /// How the linear layers' weights are stored (`--quant`).
    pub quant: WeightQuant,
    /// Parameters loaded so far.
    pub parameter_count: usize,
}

impl WeightLoader<'_> {
    /// The tensor `name`, `disk_shape` as stored (`[out, in]` for Linear weights).
    pub fn tensor<const D: usize>(&mut self, name: &str, disk_shape: [usize; D], layout: Layout) -> Result<Tensor<D>, String> {
        let data = self.checkpoint.tensor(name, &disk_shape, layout, self.dtype)?;
        self.parameter_count += disk_shape.iter().product::<usize>();
        Ok(Tensor::from_data(data, (self.device, self.dtype)))
    }

    /// A bias-free PyTorch Linear weight `[out, in]`, as Burn's `[in, out]`.
    fn linear_weight(&mut self, name: &str, in_features: usize, out_features: usize) -> Result<Tensor<2>, String> {
        self.tensor(name, [out_features, in_features], Layout::LinearTransposed)
    }

    /// The linear layer `name` in `role`, built for the kernels it will run.
    pub fn linear(&mut self, name: &str, in_features: usize, out_features: usize, role: Role) -> Result<Linear, String> {
        if self.holds_rows() {
            return self.rows_linear(&[name.to_owned()], in_features, &[out_features], role);
        }
        let weight = self.linear_weight(name, in_features, out_features)?;
        Ok(Linear::new(weight, role, self.kernels))
    }

    /// Several Linears that read the same input, concatenated along the output axis
    /// (`[in, out_1 + out_2 + ...]`): one matrix product per step instead of one per projection.
    pub fn fused_linear(&mut self, names: &[String], in_features: usize, out_features: &[usize], role: Role) -> Result<Linear, String> {
        if self.holds_rows() {
            return self.rows_linear(names, in_features, out_features, role);
        }
        let weight = self.fused_weight(names, in_features, out_features)?;
        Ok(Linear::new(weight, role, self.kernels))
    }

    /// Whether linear layers hold PyTorch's `[out, in]` rows only: with `--kernels ...+rows`, and
    /// with `--quant` (quantized along the input axis, the rows' last: src/quant.rs).
    fn holds_rows(&self) -> bool {
        self.kernels.rows || self.quant != WeightQuant::None
    }

    /// The layer holding its weight once, as PyTorch's `[out, in]` rows read from the checkpoint as
    /// stored (no transpose), which the kernel (`--kernels ...+rows`) and Burn's product both read;
    /// Burn's `[in, out]` copy is not made. Under `--quant` the rows are quantized (`rows` implies
    /// `gemv`, which `--quant` refuses, so the two never meet).
    fn rows_linear(&mut self, names: &[String], in_features: usize, out_features: &[usize], role: Role) -> Result<Linear, String> {
        let parts = names
            .iter()
            .zip(out_features)
            .map(|(name, &out)| self.tensor(name, [out, in_features], Layout::AsStored))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match self.quant {
            WeightQuant::None => Linear::from_rows(parts, role, self.kernels),
            quant => Linear::from_rows(vec![quant.apply(&names.join("+"), joined(parts, 0))?], role, self.kernels),
        })
    }

    /// The weights of `names` side by side, `[in_features, sum of out_features]`.
    fn fused_weight(&mut self, names: &[String], in_features: usize, out_features: &[usize]) -> Result<Tensor<2>, String> {
        let parts = names
            .iter()
            .zip(out_features)
            .map(|(name, &out)| self.linear_weight(name, in_features, out))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tensor::cat(parts, 1))
    }

    pub fn rms_norm(&mut self, name: &str, width: usize, eps: f64) -> Result<RmsNorm<3>, String> {
        Ok(RmsNorm::new(self.tensor(name, [width], Layout::AsStored)?.unsqueeze::<3>(), eps, self.kernels.norm))
    }

    /// Qwen3's per-head `q_norm` and `k_norm` as one norm over the `heads + kv_heads` query and
    /// key heads of a step: each weight repeated once per head, `[heads + kv_heads, head_dim]`.
    pub fn qk_norm(&mut self, prefix: &str, c: &Qwen3Config) -> Result<RmsNorm<4>, String> {
        let per_head = |loader: &mut Self, name: &str, heads: usize| -> Result<Tensor<2>, String> {
            Ok(loader.tensor(&format!("{prefix}.{name}.weight"), [c.head_dim], Layout::AsStored)?.unsqueeze::<2>().repeat_dim(0, heads))
        };
        let weight = Tensor::cat(vec![per_head(self, "q_norm", c.num_attention_heads)?, per_head(self, "k_norm", c.num_key_value_heads)?], 0);
        Ok(RmsNorm::new(weight.unsqueeze::<4>(), c.rms_norm_eps, self.kernels.norm))
    }
}
