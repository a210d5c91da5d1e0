//! Safetensors loading, Hugging Face layout: `model.safetensors`, or shards listed in
//! `model.safetensors.index.json`. Files are memory-mapped; tensors are converted to f32 on the
//! host (burn-mlx 0.1.2 uploads f32 only) under their checkpoint names, shapes checked.

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

pub struct Checkpoint {
    files: Vec<(String, Mmap)>,
    /// Tensor name to index in `files`.
    index: HashMap<String, usize>,
    /// Where a missing tensor should have been (the single file or the index).
    layout_file: String,
}

impl Checkpoint {
    pub fn open(model_dir: &Path) -> Result<Self, String> {
        let index_path = model_dir.join("model.safetensors.index.json");
        let (layout_file, names) = if index_path.exists() {
            let text = std::fs::read_to_string(&index_path).map_err(|e| format!("model.safetensors.index.json: {e}"))?;
            let index: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("model.safetensors.index.json: {e}"))?;
            let map = index["weight_map"]
                .as_object()
                .ok_or("model.safetensors.index.json: weight_map: expected an object")?;
            let mut names: Vec<String> = map.values().filter_map(|v| v.as_str().map(str::to_owned)).collect();
            names.sort();
            names.dedup();
            ("model.safetensors.index.json".to_owned(), names)
        } else if model_dir.join("model.safetensors").exists() {
            ("model.safetensors".to_owned(), vec!["model.safetensors".to_owned()])
        } else {
            return Err(format!("model.safetensors: not found in {} (nor model.safetensors.index.json)", model_dir.display()));
        };
        let mut files = Vec::new();
        let mut index = HashMap::new();
        for name in names {
            let file = File::open(model_dir.join(&name)).map_err(|e| format!("{name}: {e}"))?;
            // SAFETY: the checkpoint is not modified while the runner reads it.
            let mmap = unsafe { Mmap::map(&file) }.map_err(|e| format!("{name}: {e}"))?;
            let tensors = SafeTensors::deserialize(&mmap).map_err(|e| format!("{name}: not a valid safetensors file: {e}"))?;
            for tensor_name in tensors.names() {
                index.insert(tensor_name.clone(), files.len());
            }
            files.push((name, mmap));
        }
        Ok(Self { files, index, layout_file })
    }

    /// The tensor's values as f32, row-major, after checking its shape.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
        let &i = self.index.get(name).ok_or_else(|| format!("{}: tensor {name}: missing", self.layout_file))?;
        let (file, mmap) = &self.files[i];
        let tensors = SafeTensors::deserialize(mmap).map_err(|e| format!("{file}: {e}"))?;
        let view = tensors.tensor(name).map_err(|e| format!("{file}: tensor {name}: {e}"))?;
        if view.shape() != shape {
            return Err(format!("{file}: tensor {name}: expected shape {shape:?}, found {:?}", view.shape()));
        }
        let bytes = view.data();
        Ok(match view.dtype() {
            Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            other => return Err(format!("{file}: tensor {name}: dtype {other:?} is not F32, F16 or BF16")),
        })
    }

    /// A PyTorch `Linear` weight (`[out, in]` on disk), transposed to `[in, out]` for `x @ w`.
    pub fn linear_f32(&self, name: &str, out_features: usize, in_features: usize) -> Result<Vec<f32>, String> {
        let w = self.f32(name, &[out_features, in_features])?;
        let mut t = vec![0.0f32; w.len()];
        for o in 0..out_features {
            for i in 0..in_features {
                t[i * out_features + o] = w[o * in_features + i];
            }
        }
        Ok(t)
    }
}
