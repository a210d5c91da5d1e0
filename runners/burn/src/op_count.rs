//! `--op-count` (binaries built with the `op-count` feature, never the benchmark build):
//! prints to stderr, per request, how many tensor operations Burn's fusion layer executed per
//! decode step and in how many blocks (one block: one fused kernel, or one op run on its own). On
//! the H100 a step's host time grows with the operations registered, whatever their kind (see
//! docs/results/2026-11-25-h100x2-all-runners/NOTES.md), so this count, which any machine with a
//! Burn GPU backend (lavapipe too) can take, tracks the host cost of a model change. Uses burn-fusion's `test-util`
//! inspector, which records every executed plan of the calling thread's stream.

pub struct OpCounter {
    #[cfg(feature = "op-count")]
    inspector: Option<burn_fusion::inspect::FusionInspector>,
}

impl OpCounter {
    /// Starts counting on this thread's stream when `wanted` (`--op-count`, which the command line
    /// refuses in binaries without the `op-count` feature); call it with the stream idle (right
    /// after a token was read back), so earlier work is not counted.
    pub fn start(wanted: bool) -> Self {
        #[cfg(not(feature = "op-count"))]
        let _ = wanted;
        OpCounter {
            #[cfg(feature = "op-count")]
            inspector: wanted.then(|| burn_fusion::inspect::FusionInspector::install(burn_fusion::stream::StreamId::current())),
        }
    }

    /// Reports the operations executed since `start` (the stream idle again) over `steps` steps.
    pub fn finish(self, steps: usize) {
        #[cfg(feature = "op-count")]
        if let Some(inspector) = self.inspector {
            let reports = inspector.drain();
            let operations: usize = reports.iter().map(|r| r.total_operations()).sum();
            let blocks: usize = reports.iter().map(|r| r.blocks.len()).sum();
            let fused: usize = reports.iter().map(|r| r.fused_blocks().count()).sum();
            let per_step = |n: usize| n as f64 / steps.max(1) as f64;
            eprintln!(
                "qwen3-burn-runner: {steps} decode steps: {:.1} operations per step in {:.1} blocks ({:.1} fused)",
                per_step(operations),
                per_step(blocks),
                per_step(fused)
            );
        }
        #[cfg(not(feature = "op-count"))]
        let _ = steps;
    }
}
