//! `qwen3-burn-runner`: Qwen3 on Burn behind the JSON-lines protocol of `runners/PROTOCOL.md`.

mod cache;
mod config;
mod generate;
mod host_profile;
mod model;
mod op_count;
mod protocol;
mod weights;

use burn::tensor::backend::Backend;
use burn::tensor::{DType, IntDType, set_default_dtypes};
use config::Qwen3Config;
use model::{AttentionImpl, Qwen3};
use protocol::{Engine, GenerateReply, Limits, PROTOCOL_VERSION, ScoreReply};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use weights::Checkpoint;

/// The Burn release this runner is built against; a unit test keeps it equal to Cargo.lock.
pub const BURN_VERSION: &str = "0.21.0";

const USAGE: &str = "usage: qwen3-burn-runner --model DIR [--dtype f16|bf16|f32] \
[--backend cpu|wgpu|cuda|metal|ndarray] [--device auto|N] [--attention burn|explicit] \
[--fusion on|off]\n       qwen3-burn-runner --list-backends";

struct Args {
    model_dir: PathBuf,
    dtype: DType,
    backend: String,
    device: Option<usize>,
    attention: AttentionImpl,
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    /// GPU backends only: `false` runs the backend without Burn's Fusion wrapper (a diagnostic;
    /// the harness always runs with fusion on).
    fusion: bool,
}

/// Backends compiled into this binary, best first; `--backend` defaults to the first.
fn compiled_backends() -> Vec<&'static str> {
    let mut backends = Vec::new();
    if cfg!(feature = "cuda") {
        backends.push("cuda");
    }
    if cfg!(feature = "metal") {
        backends.push("metal");
    }
    if cfg!(feature = "wgpu") {
        backends.push("wgpu");
    }
    if cfg!(feature = "cpu") {
        backends.push("cpu");
    }
    if cfg!(feature = "ndarray") {
        backends.push("ndarray");
    }
    backends
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut model_dir = None;
    let mut dtype = DType::F16;
    let mut backend = compiled_backends().first().map(|b| b.to_string());
    let mut device = None;
    // Explicit is the faster of the two on the CPU (flex) backend; see README.
    let mut attention = AttentionImpl::Explicit;
    let mut fusion = true;
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or_else(|| format!("{flag}: missing value"));
        match flag.as_str() {
            "--model" => model_dir = Some(PathBuf::from(value()?)),
            "--dtype" => {
                dtype = match value()?.as_str() {
                    "f16" => DType::F16,
                    "bf16" => DType::BF16,
                    "f32" => DType::F32,
                    other => return Err(format!("--dtype: unknown dtype {other:?} (f16, bf16, f32)")),
                }
            }
            "--backend" => backend = Some(value()?),
            "--device" => {
                let v = value()?;
                device = match v.as_str() {
                    "auto" => None,
                    n => Some(n.parse().map_err(|_| format!("--device: expected auto or an index, got {n:?}"))?),
                }
            }
            "--attention" => {
                attention = match value()?.as_str() {
                    "burn" => AttentionImpl::Burn,
                    "explicit" => AttentionImpl::Explicit,
                    other => return Err(format!("--attention: unknown {other:?} (burn, explicit)")),
                }
            }
            "--fusion" => {
                fusion = match value()?.as_str() {
                    "on" => true,
                    "off" => false,
                    other => return Err(format!("--fusion: expected on or off, got {other:?}")),
                }
            }
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    let model_dir = model_dir.ok_or_else(|| format!("--model is required; {USAGE}"))?;
    let backend = backend.ok_or("this binary was built without a backend feature (cpu, wgpu, cuda, metal)")?;
    if !compiled_backends().contains(&backend.as_str()) {
        return Err(format!("--backend {backend}: not compiled in (built with: {:?})", compiled_backends()));
    }
    if !fusion && backend != "cuda" {
        return Err(format!("--fusion off: only for the cuda backend, not {backend}"));
    }
    Ok(Args { model_dir, dtype, backend, device, attention, fusion })
}

/// The first panic message of the process: backends panic on device threads (no CUDA driver,
/// no Vulkan adapter), and the `fatal` line should carry that cause, not the follow-on error.
static FIRST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn record_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        if let Ok(mut first) = FIRST_PANIC.lock() {
            first.get_or_insert(message);
        }
        default_hook(info);
    }));
}

/// Runs a start-up step, turning a backend panic into a `fatal` line with the first panic's text.
fn or_fatal<T>(step: &str, f: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        let cause = FIRST_PANIC.lock().ok().and_then(|p| p.clone()).unwrap_or_default();
        let cause: String = cause.chars().take(600).collect();
        fatal("internal", &format!("{step} failed: {cause}"))
    })
}

fn fatal(kind: &str, message: &str) -> ! {
    println!("{}", json!({"op": "fatal", "error": {"kind": kind, "message": message}}));
    std::process::exit(1);
}

fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F16 => "f16",
        DType::BF16 => "bf16",
        _ => "f32",
    }
}

/// What `ready` says about the backend besides the model.
struct BackendInfo {
    backend: &'static str,
    device_name: String,
    fusion: Option<bool>,
    autotune: Option<bool>,
    notes: Vec<String>,
    /// Device memory the backend holds now, where it can say (CubeCL backends).
    device_memory: Option<DeviceMemory>,
}

/// Bytes of device memory CubeCL's allocator has reserved (its memory pools), read through the
/// backend's compute client after each request; pools only grow, so the largest reading is the peak.
type DeviceMemory = Box<dyn Fn() -> Option<u64>>;

#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn cubecl_reserved_bytes<R: cubecl::Runtime>(device: &R::Device) -> DeviceMemory {
    let client = R::client(device);
    Box::new(move || client.memory_usage().ok().map(|usage| usage.bytes_reserved))
}

struct BurnEngine<B: Backend> {
    model: Qwen3<B>,
    host_profile: host_profile::HostProfile,
    device_memory: Option<DeviceMemory>,
    peak_device_bytes: Option<u64>,
}

impl<B: Backend> Engine for BurnEngine<B> {
    fn generate(&mut self, prompt: &[u32], max_new_tokens: usize, start: Instant) -> Result<GenerateReply, String> {
        self.host_profile.request_started();
        let generation = generate::generate(&self.model, prompt, max_new_tokens, start);
        if let Some(now) = self.device_memory.as_ref().and_then(|read| read()) {
            self.peak_device_bytes = Some(self.peak_device_bytes.unwrap_or(0).max(now));
        }
        Ok(GenerateReply { token_ids: generation.token_ids, token_times_ns: generation.token_times_ns, peak_device_bytes: self.peak_device_bytes })
    }

    fn score(&mut self, prompt: &[u32], continuation: &[u32], top_k: usize) -> Result<ScoreReply, String> {
        let scores = generate::score(&self.model, prompt, continuation, top_k);
        Ok(ScoreReply { argmax_ids: scores.argmax_ids, top_k: scores.top_k })
    }
}

/// Loads the model on `device`, prints `ready`, then serves stdin until shutdown.
fn run<B: Backend>(args: Args, device: B::Device, mut info: BackendInfo, process_start: Instant) {
    // GPU backends are Fusion<CubeBackend<..>> exactly when Burn's `fusion` feature is compiled in.
    if info.fusion.is_some() {
        info.fusion = Some(std::any::type_name::<B>().contains("Fusion"));
    }
    let mut dtype = args.dtype;
    if !or_fatal("opening the device", || B::supports_dtype(&device, dtype)) {
        info.notes.push(format!("{} is not supported by this device; using f32", dtype_name(dtype)));
        dtype = DType::F32;
    }
    if let Err(e) = set_default_dtypes::<B>(&device, dtype, IntDType::I32) {
        fatal("internal", &format!("cannot initialise {} device: {e:?}", info.backend));
    }
    let config = Qwen3Config::load(&args.model_dir).unwrap_or_else(|e| fatal("model", &e));
    let checkpoint = Checkpoint::open(&args.model_dir).unwrap_or_else(|e| fatal("model", &e));
    let model = or_fatal("loading weights onto the device", || {
        Qwen3::<B>::load(config.clone(), &checkpoint, &device, dtype, args.attention)
    })
    .unwrap_or_else(|e| fatal("model", &e));
    drop(checkpoint);

    // One short warm-up so kernel compilation and autotuning of the common shapes happen here.
    or_fatal("the warm-up forward pass", || generate::generate(&model, &[0, 1, 2, 3], 2, Instant::now()));

    info.notes.push(format!("burn backend type {}", B::name(&device)));
    info.notes.push(format!("attention={}", args.attention.name()));
    let ready = json!({
        "op": "ready",
        "protocol_version": PROTOCOL_VERSION,
        "framework": "burn",
        "framework_version": BURN_VERSION,
        "backend": info.backend,
        "device": info.device_name,
        "dtype": dtype_name(dtype),
        "parameter_count": model.parameter_count,
        "load_time_ms": process_start.elapsed().as_secs_f64() * 1000.0,
        "fusion": info.fusion,
        "autotune": info.autotune,
        "notes": info.notes,
    });
    println!("{ready}");

    let limits = Limits { vocab_size: config.vocab_size, max_positions: config.max_position_embeddings };
    let host_profile = host_profile::HostProfile::from_env();
    let mut engine = BurnEngine { model, host_profile, device_memory: info.device_memory.take(), peak_device_bytes: None };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    if let Err(e) = protocol::serve(stdin.lock(), stdout.lock(), &mut engine, limits) {
        eprintln!("qwen3-burn-runner: I/O error: {e}");
        std::process::exit(1);
    }
    engine.host_profile.finish();
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

/// CPU backends: no fusion or autotune switch, no device memory; `note` names the backend.
#[cfg(any(feature = "cpu", feature = "ndarray"))]
fn cpu_info(note: String) -> BackendInfo {
    BackendInfo { backend: "cpu", device_name: cpu_name(), fusion: None, autotune: None, notes: vec![note], device_memory: None }
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

/// GPU backends: `fusion` is confirmed from the backend type in `run`; autotune is a compile-time
/// feature that every GPU feature of this crate turns on.
#[cfg(any(feature = "wgpu", feature = "cuda", feature = "metal"))]
fn gpu_flags(backend: &'static str) -> BackendInfo {
    BackendInfo { backend, device_name: String::new(), fusion: Some(false), autotune: Some(true), notes: Vec::new(), device_memory: None }
}

fn main() {
    let process_start = Instant::now();
    record_panics();
    // The harness asks which backends this binary holds (bench/harness/setup/burn-build.ts).
    if std::env::args().nth(1).as_deref() == Some("--list-backends") {
        println!("{}", compiled_backends().join(" "));
        return;
    }
    let args = parse_args(std::env::args().skip(1)).unwrap_or_else(|e| fatal("internal", &e));
    match args.backend.as_str() {
        #[cfg(feature = "cpu")]
        "cpu" => {
            if args.device.is_some_and(|n| n != 0) {
                fatal("internal", "--device: the cpu backend has one device (auto or 0)");
            }
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let info = cpu_info(format!("burn-flex CPU backend, {threads} threads"));
            run::<burn::backend::Flex>(args, Default::default(), info, process_start);
        }
        #[cfg(feature = "ndarray")]
        "ndarray" => {
            let info = cpu_info("burn-ndarray CPU backend (comparison only)".into());
            run::<burn::backend::NdArray>(args, Default::default(), info, process_start);
        }
        #[cfg(feature = "wgpu")]
        "wgpu" => {
            use burn::backend::wgpu::WgpuDevice;
            let device = args.device.map_or(WgpuDevice::DefaultDevice, WgpuDevice::DiscreteGpu);
            let mut info = gpu_flags("wgpu-vulkan");
            info.device_name = format!("wgpu {device:?}");
            info.device_memory = Some(cubecl_reserved_bytes::<cubecl::wgpu::WgpuRuntime>(&device));
            run::<burn::backend::Vulkan>(args, device, info, process_start);
        }
        #[cfg(feature = "metal")]
        "metal" => {
            use burn::backend::wgpu::WgpuDevice;
            let device = args.device.map_or(WgpuDevice::DefaultDevice, WgpuDevice::DiscreteGpu);
            let mut info = gpu_flags("wgpu-metal");
            info.device_name = format!("wgpu {device:?}");
            run::<burn::backend::Metal>(args, device, info, process_start);
        }
        #[cfg(feature = "cuda")]
        "cuda" => {
            let index = args.device.unwrap_or(0);
            let mut info = gpu_flags("cuda");
            info.device_name = nvidia_gpu_name(index).unwrap_or_else(|| format!("CUDA device {index}"));
            let device = burn::backend::cuda::CudaDevice::new(index);
            info.device_memory = Some(cubecl_reserved_bytes::<cubecl::cuda::CudaRuntime>(&device));
            if args.fusion {
                run::<burn::backend::Cuda>(args, device, info, process_start);
            } else {
                run::<burn_cubecl::CubeBackend<cubecl::cuda::CudaRuntime, f32, i32, u8>>(args, device, info, process_start);
            }
        }
        other => fatal("internal", &format!("--backend {other}: not compiled in")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_version_matches_cargo_lock() {
        let lock = include_str!("../Cargo.lock");
        let entry = lock.split("[[package]]").find(|p| p.contains("\nname = \"burn\"\n")).expect("burn in Cargo.lock");
        assert!(entry.contains(&format!("version = \"{BURN_VERSION}\"")), "{entry}");
    }

    #[test]
    fn cli_defaults_and_errors() {
        let args = |s: &str| parse_args(s.split_whitespace().map(str::to_owned));
        if cfg!(feature = "cpu") {
            let parsed = args("--model m --backend cpu").ok().unwrap();
            assert_eq!(parsed.dtype, DType::F16);
            assert_eq!(parsed.device, None);
            assert!(args("--model m --backend cpu --dtype f64").err().unwrap().starts_with("--dtype"));
            assert!(parsed.fusion);
            assert!(args("--model m --backend cpu --fusion off").err().unwrap().contains("only for the cuda backend"));
            assert!(args("--model m --backend cpu --fusion maybe").err().unwrap().starts_with("--fusion"));
        }
        assert!(args("--backend cpu").err().unwrap().contains("--model is required"));
        assert!(args("--model m --bogus").err().unwrap().contains("unknown argument"));
    }
}
