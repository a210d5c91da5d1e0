//! The model configuration, deserialised field for field from the checkpoint's `config.json`
//! (the same fields and checks as runners/burn/src/config.rs, which is on Burn 0.21).

use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
pub struct Qwen3Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    /// Per-head width; for Qwen3 it is *not* `hidden_size / num_attention_heads` in general.
    pub head_dim: usize,
    pub rope_theta: f64,
    pub rms_norm_eps: f64,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    pub max_position_embeddings: usize,
}

impl Qwen3Config {
    pub fn load(model_dir: &Path) -> Result<Self, String> {
        let path = model_dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("config.json: cannot read {}: {e}", path.display()))?;
        Self::from_json(&text)
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let config: Self = serde_json::from_str(text).map_err(|e| format!("config.json: {e}"))?;
        for (field, value) in [
            ("vocab_size", config.vocab_size),
            ("hidden_size", config.hidden_size),
            ("intermediate_size", config.intermediate_size),
            ("num_hidden_layers", config.num_hidden_layers),
            ("num_attention_heads", config.num_attention_heads),
            ("num_key_value_heads", config.num_key_value_heads),
            ("head_dim", config.head_dim),
            ("max_position_embeddings", config.max_position_embeddings),
        ] {
            if value == 0 {
                return Err(format!("config.json: {field} must be positive"));
            }
        }
        if config.num_attention_heads % config.num_key_value_heads != 0 {
            return Err(format!(
                "config.json: num_attention_heads ({}) is not a multiple of num_key_value_heads ({})",
                config.num_attention_heads, config.num_key_value_heads
            ));
        }
        if config.head_dim % 2 != 0 {
            return Err(format!("config.json: head_dim ({}) must be even for RoPE", config.head_dim));
        }
        Ok(config)
    }

    /// How many query heads share one key/value head.
    pub fn kv_groups(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }
}
