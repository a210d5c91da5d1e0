//! `qwen3-burn-runner`: Qwen3 on Burn behind the JSON-lines protocol of `runners/PROTOCOL.md`.

mod cache;
mod config;
mod generate;
mod host_profile;
mod model;
mod op_count;
mod protocol;
mod step_graph;
mod weights;

#[cfg(any(feature = "wgpu", feature = "metal"))]
use burn::tensor::DeviceKind;
use burn::tensor::{DType, Device, FloatDType, IntDType};
use config::Qwen3Config;
use generate::Generator;
use model::{AttentionImpl, Qwen3};
use protocol::{Engine, GenerateReply, Limits, PROTOCOL_VERSION, ScoreReply};
use serde_json::json;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;
use weights::Checkpoint;

/// The Burn release this runner is built against; a unit test keeps it equal to Cargo.lock.
pub const BURN_VERSION: &str = "0.22.0-pre.3";

const USAGE: &str = "usage: qwen3-burn-runner --model DIR [--dtype f16|bf16|f32] \
[--backend cpu|wgpu|cuda|metal|ndarray] [--device auto|N] [--attention burn|explicit] \
[--decode-graph on|off]\n       qwen3-burn-runner --list-backends";

struct Args {
    model_dir: PathBuf,
    dtype: DType,
    backend: String,
    device: Option<usize>,
    attention: AttentionImpl,
    /// Capture the decode step as a graph and replay it per token where the backend can
    /// (src/step_graph.rs; CUDA and wgpu here, flex refuses). `off` issues every step's
    /// operations (a diagnostic; the harness runs the default).
    decode_graph: bool,
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
    // The default depends on the backend (see `default_attention`); the environment can change
    // it for runners the harness starts (it passes no runner flags).
    let mut attention = match std::env::var("QWEN3_BURN_ATTENTION").as_deref() {
        Ok(name) => Some(AttentionImpl::parse(name).map_err(|e| format!("QWEN3_BURN_ATTENTION: {e}"))?),
        Err(_) => None,
    };
    let mut decode_graph = true;
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
            "--attention" => attention = Some(AttentionImpl::parse(&value()?).map_err(|e| format!("--attention: {e}"))?),
            "--decode-graph" => {
                decode_graph = match value()?.as_str() {
                    "on" => true,
                    "off" => false,
                    other => return Err(format!("--decode-graph: expected on or off, got {other:?}")),
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
    let attention = attention.unwrap_or(default_attention(&backend));
    Ok(Args { model_dir, dtype, backend, device, attention, decode_graph })
}

/// `burn` on CUDA: Burn 0.22.0-pre.3's CUDA backend decodes the explicit attention wrongly (tokens
/// outside the teacher-forced top 3 on the H200, where the CPU backend agrees with its prefill;
/// see README, "Decode graph"), and Burn's op was the faster there. `explicit` elsewhere: the
/// faster on the CPU (flex).
fn default_attention(backend: &str) -> AttentionImpl {
    if backend == "cuda" { AttentionImpl::Burn } else { AttentionImpl::Explicit }
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
}

/// Bytes of device memory the backend's allocator has reserved (CubeCL's memory pools), read
/// after each request; pools only grow, so the largest reading is the peak. `None` where the
/// backend does not report it (CPU backends).
fn reserved_device_bytes(device: &Device) -> Option<u64> {
    device.memory_pool_usage().map(|usage| usage.bytes_reserved)
}

struct BurnEngine {
    generator: Generator,
    host_profile: host_profile::HostProfile,
    peak_device_bytes: Option<u64>,
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

/// Tokens the runner's warm-up decodes, then checks against one teacher-forced prefill before it
/// says `ready`.
const WARM_UP_PROMPT: [u32; 4] = [0, 1, 2, 3];
const WARM_UP_TOKENS: usize = 16;
/// How far down the teacher-forced ranking each decoded token may be.
const DECODE_CHECK_TOP_K: usize = 3;

/// Decode steps (a replayed graph or plain operations) and a prefill compute the same function
/// with different kernels, so every token decoded from the warm-up prompt must rank in the top 3
/// of one teacher-forced prefill over the same tokens. Not exact equality: the synthetic model's
/// f16 logits have near-ties that differently tuned kernels break either way. This catches a
/// graph replaying stale buffers, and a backend computing the decode step wrongly (Burn
/// 0.22.0-pre.3's CUDA backend with the explicit attention, H200, 2026-11-26).
fn check_decode_against_prefill(model: &Rc<Qwen3>, decoded: &[u32]) -> Result<(), String> {
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

/// Loads the model on `device`, prints `ready`, then serves stdin until shutdown.
fn run(args: Args, mut device: Device, mut info: BackendInfo, process_start: Instant) {
    let mut dtype = args.dtype;
    if !or_fatal("opening the device", || device.supports_dtype(dtype)) {
        info.notes.push(format!("{} is not supported by this device; using f32", dtype_name(dtype)));
        dtype = DType::F32;
    }
    let float = match dtype {
        DType::F16 => FloatDType::F16,
        DType::BF16 => FloatDType::BF16,
        _ => FloatDType::F32,
    };
    if let Err(e) = device.configure((float, IntDType::I32)) {
        fatal("internal", &format!("cannot initialise {} device: {e:?}", info.backend));
    }
    let config = Qwen3Config::load(&args.model_dir).unwrap_or_else(|e| fatal("model", &e));
    let checkpoint = Checkpoint::open(&args.model_dir).unwrap_or_else(|e| fatal("model", &e));
    let model = or_fatal("loading weights onto the device", || {
        Qwen3::load(config.clone(), &checkpoint, &device, dtype, args.attention)
    })
    .unwrap_or_else(|e| fatal("model", &e));
    drop(checkpoint);
    let model = Rc::new(model);

    // One short warm-up so kernel compilation, autotuning of the common shapes and the capture of
    // the first decode graph happen here.
    let mut generator = Generator::new(model.clone(), args.decode_graph);
    let warm_up = or_fatal("the warm-up forward pass", || generator.generate(&WARM_UP_PROMPT, WARM_UP_TOKENS, Instant::now()));
    let decoder = generator.decoder(generate::capacity_for(WARM_UP_PROMPT.len(), WARM_UP_TOKENS));
    let (graph, capture_error) = (decoder.is_graph(), decoder.capture_error.clone());
    let hint = if graph { "; try --decode-graph off or another --attention" } else { "; try another --attention" };
    or_fatal("checking decode against prefill", || check_decode_against_prefill(&model, &warm_up.token_ids))
        .unwrap_or_else(|e| fatal("internal", &format!("{e}{hint}")));

    info.notes.push(format!("burn device {device:?}"));
    info.notes.push(format!("attention={}", args.attention.name()));
    info.notes.push(format!("warm-up decode within the top {DECODE_CHECK_TOP_K} of a teacher-forced prefill"));
    info.notes.push(match (args.decode_graph, graph) {
        (true, true) => "decode step: one captured graph replayed per token".to_owned(),
        (true, false) => format!("decode step: plain, the backend refused a graph: {}", capture_error.unwrap_or_default()),
        (false, _) => "decode step: plain (--decode-graph off)".to_owned(),
    });
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
    let mut engine = BurnEngine { generator, host_profile, peak_device_bytes: None };
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
    BackendInfo { backend: "cpu", device_name: cpu_name(), fusion: None, autotune: None, notes: vec![note] }
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

/// GPU backends: fusion and autotune are compile-time features of Burn that every GPU feature of
/// this crate turns on (with `fusion`, Burn's CubeCL backends fuse by default).
#[cfg(any(feature = "wgpu", feature = "cuda", feature = "metal"))]
fn gpu_flags(backend: &'static str, device_name: String) -> BackendInfo {
    BackendInfo { backend, device_name, fusion: Some(true), autotune: Some(true), notes: Vec::new() }
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
            run(args, Device::flex(), info, process_start);
        }
        #[cfg(feature = "ndarray")]
        "ndarray" => {
            let info = cpu_info("burn-ndarray CPU backend (comparison only)".into());
            run(args, Device::ndarray(), info, process_start);
        }
        #[cfg(feature = "wgpu")]
        "wgpu" => {
            let kind = args.device.map_or(DeviceKind::DefaultDevice, DeviceKind::DiscreteGpu);
            let info = gpu_flags("wgpu-vulkan", format!("wgpu {kind:?}"));
            run(args, Device::vulkan(kind), info, process_start);
        }
        #[cfg(feature = "metal")]
        "metal" => {
            let kind = args.device.map_or(DeviceKind::DefaultDevice, DeviceKind::DiscreteGpu);
            let info = gpu_flags("wgpu-metal", format!("wgpu {kind:?}"));
            run(args, Device::metal(kind), info, process_start);
        }
        #[cfg(feature = "cuda")]
        "cuda" => {
            let index = args.device.unwrap_or(0);
            let info = gpu_flags("cuda", nvidia_gpu_name(index).unwrap_or_else(|| format!("CUDA device {index}")));
            run(args, Device::cuda(index), info, process_start);
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
            assert!(parsed.decode_graph);
            assert_eq!(parsed.attention, AttentionImpl::Explicit);
            assert!(!args("--model m --backend cpu --decode-graph off").ok().unwrap().decode_graph);
            assert!(args("--model m --backend cpu --decode-graph maybe").err().unwrap().starts_with("--decode-graph"));
        }
        assert_eq!(default_attention("cuda"), AttentionImpl::Burn);
        assert_eq!(default_attention("wgpu"), AttentionImpl::Explicit);
        assert!(args("--model m --attention flash").err().unwrap().starts_with("--attention: unknown attention \"flash\""));
        assert_eq!(args("--model m --attention burn").ok().unwrap().attention, AttentionImpl::Burn);
        assert!(args("--backend cpu").err().unwrap().contains("--model is required"));
        assert!(args("--model m --bogus").err().unwrap().contains("unknown argument"));
    }
}
