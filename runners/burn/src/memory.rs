//! Where the runner's device memory goes, and the plan that keeps it small (`--memory-plan`).
//!
//! CubeCL's default allocator (`SubSlices`) carves tensors out of large pages in size-bucketed
//! pools and keeps whatever the worst moment asked for: weights uploaded tensor by tensor, the
//! autotuner's scratch buffers and the prefill's activations all leave pages behind. A decode
//! step has a fixed set of shapes (the graph replays them), so its memory can be fitted:
//! - `fitted` (the runner's default): weights go to CubeCL's persistent pool (exact-size slices,
//!   never carved), every other allocation to one `Direct` pool (each allocation its own, sized to
//!   the request, reused by exact size), and pages are returned after the warm-up (autotune
//!   scratch included). Measured at the same decode speed as Burn's pools with half the memory or
//!   less: H200 CUDA 2026-11-29, H100 Vulkan 2026-12-07 (runners/burn/README.md, "Device memory");
//! - `default`: Burn's own pools, untouched (an A/B label: `burn-cuda[memory-plan=default]`).
//!
//! `snapshot` reads what the allocator holds at a phase (after load, after warm-up) for the
//! breakdown in `ready.notes` and runners/burn/README.md. Backends without CubeCL pools (flex)
//! report nothing and have no plan to follow ([`MemoryPlan::on`]).

use burn::tensor::Device;
use burn_backend::MemoryPoolLayout;
use serde_json::{Value, json};

/// How the runner lays out device memory (CLI `--memory-plan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryPlan {
    Default,
    Fitted,
}

impl MemoryPlan {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "default" => Ok(Self::Default),
            "fitted" => Ok(Self::Fitted),
            other => Err(format!("--memory-plan must be default or fitted, got {other:?}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Fitted => "fitted",
        }
    }

    /// The plan a device follows: `default` where it has no CubeCL pools (flex), so that neither
    /// the persistent upload nor the second warm-up decode after the cleanup runs there.
    pub fn on(self, device: &Device) -> Self {
        if device.memory_pool_usage().is_none() { Self::Default } else { self }
    }

    /// Before anything is allocated: one exact-size pool for everything dynamic.
    pub fn install(self, device: &Device) -> Result<(), String> {
        if self == Self::Default || device.memory_pool_usage().is_none() {
            return Ok(());
        }
        device.memory_install_pools(MemoryPoolLayout::Direct).map_err(|e| format!("--memory-plan fitted: installing a Direct pool failed: {e:?}"))
    }

    /// Runs `load` (the weight upload) so its tensors land in the persistent pool under `fitted`.
    pub fn load<T: Send>(self, device: &Device, load: impl Fn(()) -> T + Send) -> T {
        match self {
            Self::Default => load(()),
            Self::Fitted => device.memory_persistent_allocations((), load),
        }
    }

    /// After the warm-up: returns free pages (autotune scratch, prefill activations) to the driver.
    pub fn after_warm_up(self, device: &Device) {
        if self == Self::Fitted {
            device.memory_cleanup();
        }
    }
}

/// What the device allocator holds now, in bytes, with one entry per dynamic pool; null where the
/// backend has no CubeCL pools.
pub fn snapshot(device: &Device) -> Value {
    let Some(usage) = device.memory_pool_usage() else { return Value::Null };
    let pools: Vec<Value> = device
        .memory_pool_report()
        .unwrap_or_default()
        .iter()
        .map(|pool| json!({ "page_size": pool.page_size, "pages": pool.pages, "pages_peak": pool.pages_peak, "largest_alloc": pool.largest_alloc }))
        .collect();
    json!({
        "bytes_in_use": usage.bytes_in_use,
        "bytes_reserved": usage.bytes_reserved,
        "bytes_padding": usage.bytes_padding,
        "allocations": usage.number_allocs,
        "pools": pools,
    })
}

/// One line for `ready.notes`: in use / reserved MiB at each phase.
pub fn summary(phases: &[(&str, &Value)]) -> String {
    let mib = |v: &Value, key: &str| v[key].as_u64().map(|b| format!("{:.0}", b as f64 / 1048576.0)).unwrap_or_else(|| "?".into());
    let parts: Vec<String> = phases
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(phase, v)| format!("{phase} {} MiB in use / {} reserved", mib(v, "bytes_in_use"), mib(v, "bytes_reserved")))
        .collect();
    if parts.is_empty() { String::new() } else { format!("device memory (CubeCL pools): {}", parts.join("; ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_names_round_trip_and_bad_names_say_what_is_allowed() {
        for plan in [MemoryPlan::Default, MemoryPlan::Fitted] {
            assert_eq!(MemoryPlan::parse(plan.name()).unwrap(), plan);
        }
        assert!(MemoryPlan::parse("tiny").unwrap_err().contains("default or fitted"));
    }

    #[test]
    fn summary_lists_phases_in_mib_and_skips_backends_without_pools() {
        let loaded = json!({ "bytes_in_use": 1048576u64 * 1200, "bytes_reserved": 1048576u64 * 1300 });
        let line = summary(&[("after load", &loaded), ("after warm-up", &Value::Null)]);
        assert_eq!(line, "device memory (CubeCL pools): after load 1200 MiB in use / 1300 reserved");
        assert_eq!(summary(&[("after load", &Value::Null)]), "");
    }
}
