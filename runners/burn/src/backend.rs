//! Opens the device of the `--backend` asked for, and says what `ready` reports about it: the
//! backend's name, the device's name, and whether fusion and autotune are on.

use crate::cli::Args;
use crate::fatal::fatal;
#[cfg(any(feature = "wgpu", feature = "metal"))]
use burn::tensor::DeviceKind;
use burn::tensor::Device;

pub struct BackendInfo {
    /// `ready.backend`.
    pub backend: &'static str,
    pub device_name: String,
    pub fusion: Option<bool>,
    pub autotune: Option<bool>,
    pub notes: Vec<String>,
}

pub fn open(args: &Args) -> (Device, BackendInfo) {
    match args.backend.as_str() {
        #[cfg(feature = "cpu")]
        "cpu" => {
            if args.device.is_some_and(|n| n != 0) {
                fatal("internal", "--device: the cpu backend has one device (auto or 0)");
            }
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            (Device::flex(), cpu_info(format!("burn-flex CPU backend, {threads} threads")))
        }
        #[cfg(feature = "ndarray")]
        "ndarray" => (Device::ndarray(), cpu_info("burn-ndarray CPU backend (comparison only)".into())),
        #[cfg(feature = "wgpu")]
        "wgpu" => {
            let kind = args.device.map_or(DeviceKind::DefaultDevice, DeviceKind::DiscreteGpu);
            let selector = format!("wgpu {kind:?}");
            (Device::vulkan(kind), gpu_info("wgpu-vulkan", selector))
        }
        #[cfg(feature = "metal")]
        "metal" => {
            let kind = args.device.map_or(DeviceKind::DefaultDevice, DeviceKind::DiscreteGpu);
            let selector = format!("wgpu {kind:?}");
            (Device::metal(kind), gpu_info("wgpu-metal", selector))
        }
        #[cfg(feature = "cuda")]
        "cuda" => {
            let index = args.device.unwrap_or(0);
            let name = nvidia_gpu_name(index).unwrap_or_else(|| format!("CUDA device {index}"));
            (Device::cuda(index), gpu_info("cuda", name))
        }
        other => fatal("internal", &format!("--backend {other}: not compiled in")),
    }
}

/// CPU backends: no fusion or autotune switch, no device memory; `note` names the backend.
#[cfg(any(feature = "cpu", feature = "ndarray"))]
fn cpu_info(note: String) -> BackendInfo {
    BackendInfo { backend: "cpu", device_name: cpu_name(), fusion: None, autotune: None, notes: vec![note] }
}

#[cfg(any(feature = "cpu", feature = "ndarray"))]
fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|name| name.trim().to_owned())
        })
        .unwrap_or_else(|| format!("{} CPU", std::env::consts::ARCH))
}

/// GPU backends: fusion and autotune are compile-time features of Burn that every GPU feature of
/// this crate turns on (with `fusion`, Burn's CubeCL backends fuse by default).
#[cfg(any(feature = "wgpu", feature = "cuda", feature = "metal"))]
fn gpu_info(backend: &'static str, device_name: String) -> BackendInfo {
    BackendInfo { backend, device_name, fusion: Some(true), autotune: Some(true), notes: Vec::new() }
}

/// The NVIDIA driver lists each GPU's model under /proc on Linux; cubecl does not expose it.
#[cfg(feature = "cuda")]
fn nvidia_gpu_name(index: usize) -> Option<String> {
    let mut dirs: Vec<_> = std::fs::read_dir("/proc/driver/nvidia/gpus").ok()?.flatten().map(|e| e.path()).collect();
    dirs.sort();
    let info = std::fs::read_to_string(dirs.get(index)?.join("information")).ok()?;
    let line = info.lines().find(|l| l.starts_with("Model:"))?;
    Some(line.trim_start_matches("Model:").trim().to_owned())
}
