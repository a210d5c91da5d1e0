//! The layers Qwen3 is built from (mlx-lm takes them from `mlx.nn`): a bias-free linear layer,
//! RMSNorm, and rotary position embeddings.

mod linear;
mod rms_norm;
mod rope;

pub use linear::{Linear, Output, Role, joined};
pub use rms_norm::RmsNorm;
pub use rope::{Rope, RopeAngles};
