//! Loads the model's parameters onto the device under the checkpoint's own names: each layer's
//! `load` (src/model.rs) names its tensors, the loader reads them from the [`Checkpoint`] in the
//! run dtype, shapes them for the layer and counts the parameters.

use crate::checkpoint::{Checkpoint, Layout};
use crate::config::Qwen3Config;
use crate::kernels::Kernels;
use crate::nn::{Linear, RmsNorm, Role};
use burn::tensor::{DType, Device, Tensor};

pub struct WeightLoader<'a> {
    pub checkpoint: &'a Checkpoint,
    pub device: &'a Device,
    pub dtype: DType,
    /// The kernels the layers are built for (`--kernels`).
    pub kernels: Kernels,
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

    /// The linear layer `name` in `role`, built for the kernels it will run.
    pub fn linear(&mut self, name: &str, in_features: usize, out_features: usize, role: Role) -> Result<Linear, String> {
        self.fused_linear(&[name.to_owned()], in_features, &[out_features], role)
    }

    /// Several Linears that read the same input as one layer, their outputs side by side: one
    /// matrix product per step instead of one per projection. Each weight is held once, as what
    /// reads it: PyTorch's `[out, in]` rows as stored where the decode step's kernel reads them
    /// (`--kernels gemv`; Burn's product then reads them too), else Burn's `[in, out]`.
    pub fn fused_linear(&mut self, names: &[String], in_features: usize, out_features: &[usize], role: Role) -> Result<Linear, String> {
        let layout = if self.kernels.gemv { Layout::AsStored } else { Layout::LinearTransposed };
        let parts = names
            .iter()
            .zip(out_features)
            .map(|(name, &out)| self.tensor(name, [out, in_features], layout))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match self.kernels.gemv {
            true => Linear::from_rows(parts, role, self.kernels),
            false => Linear::from_columns(parts, role),
        })
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
