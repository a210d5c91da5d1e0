//! The model configuration, deserialised field for field from the checkpoint's `config.json`.

use serde::Deserialize;
use std::path::Path;

/// Qwen3 hyper-parameters as Hugging Face writes them. Fields the runner does not use are ignored.
#[derive(Debug, Clone, Deserialize, PartialEq)]
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
    pub tie_word_embeddings: bool,
    pub max_position_embeddings: usize,
}

impl Qwen3Config {
    /// Parses `config.json` text; the error names the file and the offending field.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let config: Self = serde_json::from_str(text).map_err(|e| format!("config.json: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    pub fn load(model_dir: &Path) -> Result<Self, String> {
        let path = model_dir.join("config.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("config.json: cannot read {}: {e}", path.display()))?;
        Self::from_json(&text)
    }

    fn validate(&self) -> Result<(), String> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(format!("config.json: {field} must be positive"));
            }
        }
        if self.num_attention_heads % self.num_key_value_heads != 0 {
            return Err(format!(
                "config.json: num_attention_heads ({}) is not a multiple of num_key_value_heads ({})",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if self.head_dim % 2 != 0 {
            return Err(format!("config.json: head_dim ({}) must be even for RoPE", self.head_dim));
        }
        Ok(())
    }

    /// How many query heads share one key/value head.
    pub fn kv_groups(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"{
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
        "vocab_size": 151936, "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "head_dim": 32, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
        "tie_word_embeddings": true, "max_position_embeddings": 40960,
        "torch_dtype": "float32", "hidden_act": "silu"
    }"#;

    #[test]
    fn head_dim_comes_from_config_not_hidden_over_heads() {
        let config = Qwen3Config::from_json(TINY).unwrap();
        assert_eq!(config.head_dim, 32);
        assert_ne!(config.head_dim, config.hidden_size / config.num_attention_heads);
        assert_eq!(config.kv_groups(), 2);
        assert_eq!(config.rope_theta, 1_000_000.0);
        assert!(config.tie_word_embeddings);
    }

    #[test]
    fn missing_field_is_named() {
        let text = TINY.replace("\"head_dim\": 32,", "");
        let err = Qwen3Config::from_json(&text).unwrap_err();
        assert!(err.contains("config.json") && err.contains("head_dim"), "{err}");
    }

    #[test]
    fn indivisible_heads_are_rejected() {
        let text = TINY.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3");
        let err = Qwen3Config::from_json(&text).unwrap_err();
        assert!(err.contains("num_key_value_heads"), "{err}");
    }
}
