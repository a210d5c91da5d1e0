//! The checkpoint on disk: one `model.safetensors` or shards listed in
//! `model.safetensors.index.json`.
//!
//! Files are memory-mapped; each tensor is converted on the host to the run dtype and, for
//! PyTorch `Linear` weights (`[out, in]` on disk), transposed exactly once here into Burn's
//! `[in, out]` layout. Every error names the file and the tensor. Device tensors and the model's
//! layers are made from them by `weights::WeightLoader`.

use burn::tensor::{DType, TensorData};
use half::{bf16, f16};
use memmap2::Mmap;
use safetensors::{Dtype as DiskDType, SafeTensors};
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

const SINGLE_FILE: &str = "model.safetensors";
const INDEX_FILE: &str = "model.safetensors.index.json";

/// How a tensor is laid out on disk relative to how the model wants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Stored as the model uses it (norm weights, the embedding table).
    AsStored,
    /// A PyTorch `Linear` weight, `[out, in]` on disk; the model gets `[in, out]`.
    LinearTransposed,
}

/// Memory-mapped checkpoint files and which file holds each tensor.
pub struct Checkpoint {
    files: Vec<(String, Mmap)>,
    file_of_tensor: HashMap<String, usize>,
}

impl Checkpoint {
    pub fn open(model_dir: &Path) -> Result<Self, String> {
        let index_path = model_dir.join(INDEX_FILE);
        let file_names: Vec<String> = if index_path.exists() {
            let text = std::fs::read_to_string(&index_path)
                .map_err(|e| format!("{INDEX_FILE}: cannot read: {e}"))?;
            let index: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{INDEX_FILE}: {e}"))?;
            let weight_map = index
                .get("weight_map")
                .and_then(|m| m.as_object())
                .ok_or_else(|| format!("{INDEX_FILE}: field weight_map is missing or not an object"))?;
            let mut names: Vec<String> = weight_map
                .values()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| format!("{INDEX_FILE}: weight_map values must be file names"))?;
            names.sort();
            names.dedup();
            names
        } else {
            vec![SINGLE_FILE.to_owned()]
        };

        let mut files = Vec::with_capacity(file_names.len());
        let mut file_of_tensor = HashMap::new();
        for (i, name) in file_names.into_iter().enumerate() {
            let path = model_dir.join(&name);
            let file = File::open(&path).map_err(|e| format!("{name}: cannot open {}: {e}", path.display()))?;
            // SAFETY: the checkpoint is read-only for the life of the process.
            let mmap = unsafe { Mmap::map(&file) }.map_err(|e| format!("{name}: cannot map: {e}"))?;
            let tensors = SafeTensors::deserialize(&mmap).map_err(|e| format!("{name}: {e}"))?;
            for tensor_name in tensors.names() {
                file_of_tensor.insert(tensor_name.to_owned(), i);
            }
            files.push((name, mmap));
        }
        Ok(Self { files, file_of_tensor })
    }

    /// Where a missing tensor was looked for: the index when sharded, else the single file.
    fn source_name(&self) -> &str {
        if self.files.len() == 1 && self.files[0].0 == SINGLE_FILE { SINGLE_FILE } else { INDEX_FILE }
    }

    /// Reads `name`, checks its on-disk shape, converts it to `dtype` and applies `layout`.
    /// `disk_shape` is the shape as stored (`[out, in]` for Linear weights).
    pub fn tensor(&self, name: &str, disk_shape: &[usize], layout: Layout, dtype: DType) -> Result<TensorData, String> {
        let &file_index = self
            .file_of_tensor
            .get(name)
            .ok_or_else(|| format!("{}: tensor {name} is missing", self.source_name()))?;
        let (file_name, mmap) = &self.files[file_index];
        let tensors = SafeTensors::deserialize(mmap).map_err(|e| format!("{file_name}: {e}"))?;
        let view = tensors.tensor(name).map_err(|e| format!("{file_name}: tensor {name}: {e}"))?;
        if view.shape() != disk_shape {
            return Err(format!(
                "{file_name}: tensor {name}: expected shape {disk_shape:?}, found {:?}",
                view.shape()
            ));
        }
        let values = to_f32(view.dtype(), view.data()).map_err(|e| format!("{file_name}: tensor {name}: {e}"))?;
        let (values, shape) = match layout {
            Layout::AsStored => (values, disk_shape.to_vec()),
            Layout::LinearTransposed => {
                let [rows, cols] = disk_shape else {
                    return Err(format!("{file_name}: tensor {name}: a Linear weight must be 2-D"));
                };
                (transpose(&values, *rows, *cols), vec![*cols, *rows])
            }
        };
        Ok(match dtype {
            DType::F32 => TensorData::new(values, shape),
            DType::F16 => TensorData::new(values.iter().map(|&v| f16::from_f32(v)).collect::<Vec<_>>(), shape),
            DType::BF16 => TensorData::new(values.iter().map(|&v| bf16::from_f32(v)).collect::<Vec<_>>(), shape),
            other => return Err(format!("run dtype {other:?} is not supported")),
        })
    }
}

/// Widens f32/f16/bf16 bytes (little-endian) to f32. Every f16/bf16 value is exact in f32, so
/// converting through f32 to the run dtype never loses more than the run dtype itself.
fn to_f32(dtype: DiskDType, bytes: &[u8]) -> Result<Vec<f32>, String> {
    let words = |width: usize| bytes.chunks_exact(width);
    Ok(match dtype {
        DiskDType::F32 => words(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        DiskDType::F16 => words(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        DiskDType::BF16 => words(2).map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        other => return Err(format!("dtype {other:?} is not supported (expected F32, F16 or BF16)")),
    })
}

/// Row-major `[rows, cols]` to `[cols, rows]`, in cache-sized blocks.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const BLOCK: usize = 32;
    let mut out = vec![0.0f32; values.len()];
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (0..cols).step_by(BLOCK) {
            for r in r0..(r0 + BLOCK).min(rows) {
                for c in c0..(c0 + BLOCK).min(cols) {
                    out[c * rows + r] = values[r * cols + c];
                }
            }
        }
    }
    out
}

/// Writes a small f32 checkpoint; used by tests to build fixtures with exact contents.
#[cfg(test)]
pub fn write_f32_safetensors(path: &Path, tensors: &std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)>) {
    use safetensors::tensor::TensorView;
    let bytes: std::collections::BTreeMap<String, (Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, (shape, values))| {
            (name.clone(), (shape.clone(), values.iter().flat_map(|v| v.to_le_bytes()).collect()))
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(name, (shape, data))| (name.clone(), TensorView::new(DiskDType::F32, shape.clone(), data).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn fixture(dir: &Path) {
        let mut tensors = BTreeMap::new();
        tensors.insert("model.norm.weight".to_owned(), (vec![4], vec![1.0, 2.0, 3.0, 4.0]));
        tensors.insert("model.layers.0.mlp.up_proj.weight".to_owned(), (vec![3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        write_f32_safetensors(&dir.join(SINGLE_FILE), &tensors);
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("qwen3-burn-weights-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn missing_tensor_names_file_and_tensor() {
        let dir = temp_dir("missing");
        fixture(&dir);
        let checkpoint = Checkpoint::open(&dir).unwrap();
        let err = checkpoint.tensor("lm_head.weight", &[4, 4], Layout::AsStored, DType::F32).unwrap_err();
        assert_eq!(err, "model.safetensors: tensor lm_head.weight is missing");
    }

    #[test]
    fn wrong_shape_names_file_tensor_and_shapes() {
        let dir = temp_dir("shape");
        fixture(&dir);
        let checkpoint = Checkpoint::open(&dir).unwrap();
        let err = checkpoint
            .tensor("model.layers.0.mlp.up_proj.weight", &[2, 3], Layout::LinearTransposed, DType::F32)
            .unwrap_err();
        assert_eq!(err, "model.safetensors: tensor model.layers.0.mlp.up_proj.weight: expected shape [2, 3], found [3, 2]");
    }

    #[test]
    fn linear_weights_are_transposed_once_and_converted() {
        let dir = temp_dir("transpose");
        fixture(&dir);
        let checkpoint = Checkpoint::open(&dir).unwrap();
        let data = checkpoint
            .tensor("model.layers.0.mlp.up_proj.weight", &[3, 2], Layout::LinearTransposed, DType::F16)
            .unwrap();
        assert_eq!(data.shape.to_vec(), vec![2, 3]);
        let values: Vec<f32> = data.iter::<f32>().collect();
        assert_eq!(values, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn missing_shard_file_is_named() {
        let dir = temp_dir("shards");
        std::fs::write(
            dir.join(INDEX_FILE),
            r#"{"metadata":{},"weight_map":{"model.norm.weight":"model-00001-of-00002.safetensors"}}"#,
        )
        .unwrap();
        let err = Checkpoint::open(&dir).err().unwrap();
        assert!(err.starts_with("model-00001-of-00002.safetensors: cannot open"), "{err}");
    }
}
