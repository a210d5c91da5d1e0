//! A decode step captured once as a device graph and replayed as one launch: the sequence of
//! `burn::tensor::capture` (prepare the allocator, run the step three times so autotuning and
//! every allocation happen before recording, then record one run), written out with Burn's
//! backend API so that a capture that fails says why instead of silently re-running the step.
//! Burn 0.22 records hardware graphs on CUDA (and ROCm); other backends refuse to start one.

use burn::tensor::{Device, Int, Tensor};
use burn_backend::{Backend, BackendGraph};
use burn_dispatch::Dispatch;

/// Runs before recording, as in `burn::tensor::capture`: with fusion the first run builds and
/// autotunes the fused kernels; from the second on the step takes the cached path whose buffers
/// the recording must reuse.
const WARM_UP_RUNS: usize = 3;

pub struct StepGraph {
    device: Device,
    graph: BackendGraph<Dispatch>,
    /// The recorded run's output: the buffer every replay overwrites.
    output: Tensor<1, Int>,
}

impl StepGraph {
    /// Runs `step` `WARM_UP_RUNS + 1` times (whatever it writes, it writes that often) and
    /// records the last run, or says why the backend would not.
    pub fn capture(device: &Device, step: &mut dyn FnMut() -> Tensor<1, Int>) -> Result<Self, String> {
        let dispatch = device.as_dispatch();
        fn failed(stage: &'static str) -> impl Fn(burn_backend::ExecutionError) -> String {
            move |e| format!("{stage}: {e}")
        }
        Dispatch::graph_prepare(dispatch).map_err(failed("preparing the allocator"))?;
        for _ in 0..WARM_UP_RUNS {
            // Kept until the sync: a lazy backend skips work whose result is already dropped.
            let output = step();
            Dispatch::sync(dispatch).map_err(failed("warming up"))?;
            drop(output);
        }
        Dispatch::graph_start_capture(dispatch).map_err(failed("starting the capture"))?;
        let output = step();
        let graph = Dispatch::graph_stop_capture(dispatch).map_err(failed("recording"))?;
        Ok(Self { device: device.clone(), graph, output })
    }

    /// Replays the recorded launches and returns the output tensor they wrote.
    ///
    /// # Safety
    ///
    /// Every buffer the recorded step read or wrote must still be alive, written since only in
    /// place, and used by no other stream or thread (see `burn::tensor::Graph::replay`).
    pub unsafe fn replay(&self) -> Tensor<1, Int> {
        // SAFETY: forwarded from this function's contract.
        unsafe { Dispatch::graph_replay(self.device.as_dispatch(), &self.graph) }.expect("replaying the decode graph");
        self.output.clone()
    }
}
