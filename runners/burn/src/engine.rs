//! The model behind the protocol server: [`protocol::Engine`] on a [`Generator`].

use crate::generate::{self, Generator};
use crate::host_profile::HostProfile;
use crate::protocol::{Engine, GenerateReply, ScoreReply};
use burn::tensor::Device;
use std::time::Instant;

pub struct BurnEngine {
    pub generator: Generator,
    pub host_profile: HostProfile,
    /// The largest [`reserved_device_bytes`] read so far.
    pub peak_device_bytes: Option<u64>,
}

/// Bytes of device memory the backend's allocator has reserved (CubeCL's memory pools), read
/// after each request; pools only grow, so the largest reading is the peak. `None` where the
/// backend does not report it (CPU backends).
fn reserved_device_bytes(device: &Device) -> Option<u64> {
    device.memory_pool_usage().map(|usage| usage.bytes_reserved)
}

impl Engine for BurnEngine {
    fn generate(&mut self, prompt: &[u32], max_new_tokens: usize, start: Instant) -> Result<GenerateReply, String> {
        self.host_profile.request_started();
        let generation = self.generator.generate(prompt, max_new_tokens, start);
        if let Some(now) = reserved_device_bytes(&self.generator.model.device) {
            self.peak_device_bytes = Some(self.peak_device_bytes.unwrap_or(0).max(now));
        }
        Ok(GenerateReply { token_ids: generation.token_ids, token_times_ns: generation.token_times_ns, peak_device_bytes: self.peak_device_bytes })
    }

    fn score(&mut self, prompt: &[u32], continuation: &[u32], top_k: usize) -> Result<ScoreReply, String> {
        let scores = generate::score(&self.generator.model, prompt, continuation, top_k);
        Ok(ScoreReply { argmax_ids: scores.argmax_ids, top_k: scores.top_k })
    }
}
