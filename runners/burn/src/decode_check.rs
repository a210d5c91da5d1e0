//! The check a runner passes before it says `ready`: decode steps (a replayed graph or plain
//! operations) and a prefill compute the same function with different kernels, so every token
//! decoded from a warm-up prompt must rank in the top 3 of one teacher-forced prefill over the
//! same tokens. Not exact equality: the synthetic model's f16 logits have near-ties that
//! differently tuned kernels break either way. This catches a graph replaying stale buffers, and
//! a backend computing the decode step wrongly (Burn 0.22.0-pre.3's CUDA backend with the explicit
//! attention, H200, 2026-11-26).

use crate::generate;
use crate::model::Model;

pub const WARM_UP_PROMPT: [u32; 4] = [0, 1, 2, 3];
pub const WARM_UP_TOKENS: usize = 16;
/// How far down the teacher-forced ranking each decoded token may be.
pub const DECODE_CHECK_TOP_K: usize = 3;

/// `decoded`: the tokens decode steps chose after [`WARM_UP_PROMPT`].
pub fn check_decode_against_prefill(model: &Model, decoded: &[u32]) -> Result<(), String> {
    let scores = generate::score(model, &WARM_UP_PROMPT, decoded, DECODE_CHECK_TOP_K);
    for (step, (token, ranked)) in decoded.iter().zip(&scores.top_k).enumerate() {
        if !ranked.iter().any(|(id, _)| id == token) {
            return Err(format!(
                "decode steps chose token {token} at step {step}, outside the top {DECODE_CHECK_TOP_K} of a teacher-forced prefill ({ranked:?})"
            ));
        }
    }
    Ok(())
}
