//! `qwen3-burn-mlx-runner`: Qwen3 on Burn 0.16 with the burn-mlx backend (Apple MLX: Metal on a
//! Mac, the CPU elsewhere), behind the JSON-lines protocol of `runners/PROTOCOL.md`.

#[path = "../../burn/src/config.rs"]
mod config; // shared with runners/burn: Burn-independent
mod generate;
#[cfg(feature = "mlx")]
mod mlx;
mod model;
#[path = "../../burn/src/protocol.rs"]
mod protocol; // shared with runners/burn: Burn-independent
mod weights;

use burn::tensor::backend::Backend;
use config::Qwen3Config;
use model::Qwen3;
use protocol::{Engine, GenerateReply, Limits, ScoreReply};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use weights::Checkpoint;

/// The pinned versions (Cargo.toml `=` requirements); a test keeps them equal to Cargo.toml.
pub const BURN_VERSION: &str = "0.16.1";
pub const BURN_MLX_VERSION: &str = "0.1.2";

const USAGE: &str = "usage: qwen3-burn-mlx-runner --model DIR [--dtype f16|bf16|f32] [--backend mlx|ndarray] [--device auto|gpu|cpu]";

struct Args {
    model_dir: PathBuf,
    dtype: String,
    backend: String,
    device: String,
}

fn compiled_backends() -> Vec<&'static str> {
    let mut backends = Vec::new();
    if cfg!(feature = "mlx") {
        backends.push("mlx");
    }
    if cfg!(feature = "ndarray") {
        backends.push("ndarray");
    }
    backends
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut model_dir = None;
    let mut args = Args {
        model_dir: PathBuf::new(),
        dtype: "f16".into(),
        backend: compiled_backends().first().copied().unwrap_or("").into(),
        device: "auto".into(),
    };
    while let Some(flag) = argv.next() {
        if flag == "--list-backends" {
            println!("{}", compiled_backends().join(" "));
            std::process::exit(0);
        }
        let value = argv.next().ok_or_else(|| format!("{flag}: missing value; {USAGE}"))?;
        match flag.as_str() {
            "--model" => model_dir = Some(PathBuf::from(value)),
            "--dtype" if ["f16", "bf16", "f32"].contains(&value.as_str()) => args.dtype = value,
            "--dtype" => return Err(format!("--dtype: unknown dtype {value:?} (f16, bf16, f32)")),
            "--backend" => args.backend = value,
            "--device" if ["gpu", "cpu", "auto"].contains(&value.as_str()) => args.device = value,
            "--device" => return Err(format!("--device: unknown device {value:?} (auto, gpu, cpu)")),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    args.model_dir = model_dir.ok_or_else(|| format!("--model is required; {USAGE}"))?;
    if !compiled_backends().contains(&args.backend.as_str()) {
        return Err(format!("--backend {:?}: not compiled in (built with: {:?})", args.backend, compiled_backends()));
    }
    Ok(args)
}

fn fatal(kind: &str, message: &str) -> ! {
    println!("{}", json!({"op": "fatal", "error": {"kind": kind, "message": message}}));
    std::process::exit(1);
}

/// The chip or CPU name the OS reports: sysctl on macOS ("Apple M3 Max"), /proc/cpuinfo on Linux.
fn chip_name() -> String {
    #[cfg(target_os = "macos")]
    {
        let mut buffer = [0u8; 256];
        let mut size = buffer.len();
        let name = c"machdep.cpu.brand_string";
        // SAFETY: sysctlbyname writes at most `size` bytes into `buffer`.
        let ok = unsafe { libc::sysctlbyname(name.as_ptr(), buffer.as_mut_ptr().cast(), &mut size, std::ptr::null_mut(), 0) } == 0;
        if ok {
            return String::from_utf8_lossy(&buffer[..size.saturating_sub(1)]).into_owned();
        }
    }
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_owned()))
        .unwrap_or_else(|| format!("{} CPU", std::env::consts::ARCH))
}

struct BurnEngine<B: Backend> {
    model: Qwen3<B>,
    /// MLX's peak allocation in bytes, for `peak_device_bytes` (None on ndarray).
    peak_memory: fn() -> Option<u64>,
}

impl<B: Backend> Engine for BurnEngine<B> {
    fn generate(&mut self, prompt: &[u32], max_new_tokens: usize, start: Instant) -> Result<GenerateReply, String> {
        let g = generate::generate(&self.model, prompt, max_new_tokens, start);
        Ok(GenerateReply { token_ids: g.token_ids, token_times_ns: g.token_times_ns, peak_device_bytes: (self.peak_memory)() })
    }

    fn score(&mut self, prompt: &[u32], continuation: &[u32], top_k: usize) -> Result<ScoreReply, String> {
        let s = generate::score(&self.model, prompt, continuation, top_k);
        Ok(ScoreReply { argmax_ids: s.argmax_ids, top_k: s.top_k })
    }
}

/// What the chosen backend and device contribute to the `ready` line.
struct ReadyFacts {
    backend: &'static str,
    device: String,
    /// "burn 0.16.1, burn-mlx 0.1.2", plus the MLX library's version and origin on the mlx backend.
    framework_version: String,
    notes: Vec<String>,
}

fn run<B: Backend>(args: Args, device: B::Device, mut ready: ReadyFacts, peak_memory: fn() -> Option<u64>, process_start: Instant) {
    let config = Qwen3Config::load(&args.model_dir).unwrap_or_else(|e| fatal("model", &e));
    let checkpoint = Checkpoint::open(&args.model_dir).unwrap_or_else(|e| fatal("model", &e));
    let model = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Qwen3::<B>::load(config.clone(), &checkpoint, &device)))
        .unwrap_or_else(|_| fatal("internal", "loading weights onto the device panicked (see stderr)"))
        .unwrap_or_else(|e| fatal("model", &e));
    drop(checkpoint);
    let warm_up: Vec<u32> = (0..4.min(config.vocab_size as u32)).collect();
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| generate::generate(&model, &warm_up, 2, Instant::now()))).is_err() {
        fatal("internal", "the warm-up forward pass panicked (see stderr)");
    }
    if args.dtype != "f32" {
        ready.notes.push(format!(
            "{} requested; burn-mlx {BURN_MLX_VERSION} computes in f32 only (FloatElem = f32; its float_cast ignores f16/bf16), so f32 is used",
            args.dtype
        ));
    }
    ready.notes.push("Qwen3 on Burn 0.16 tensor ops: explicit attention (matmul, softmax, matmul), K/V not repeated; RoPE tables per request".into());
    ready.notes.push(format!("burn backend {}", B::name()));
    let line = protocol::Ready {
        framework: "burn-mlx".into(),
        framework_version: ready.framework_version,
        backend: ready.backend.into(),
        device: ready.device,
        dtype: "f32".into(),
        parameter_count: model.parameter_count,
        load_time_ms: process_start.elapsed().as_secs_f64() * 1000.0,
        fusion: None,
        autotune: None,
        notes: ready.notes,
        build: None,
    }
    .to_line();
    println!("{line}");
    let limits = Limits { vocab_size: config.vocab_size, max_positions: config.max_position_embeddings };
    let mut engine = BurnEngine { model, peak_memory };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    if let Err(e) = protocol::serve(stdin.lock(), stdout.lock(), &mut engine, limits) {
        eprintln!("qwen3-burn-mlx-runner: I/O error: {e}");
        std::process::exit(1);
    }
}

fn main() {
    let process_start = Instant::now();
    let args = parse_args(std::env::args().skip(1)).unwrap_or_else(|e| fatal("internal", &e));
    match args.backend.as_str() {
        #[cfg(feature = "mlx")]
        "mlx" => {
            let (device, auto_note) = mlx::choose_device(&args.device).unwrap_or_else(|e| fatal("internal", &e));
            let (backend, name) = match device {
                burn_mlx::MlxDevice::Cpu => ("cpu", chip_name()),
                burn_mlx::MlxDevice::Gpu => (mlx::GPU_BACKEND, format!("{} GPU", chip_name())),
            };
            let mlx_version = mlx::version().unwrap_or_else(|| "unknown".into());
            let framework_version = format!("burn {BURN_VERSION}, burn-mlx {BURN_MLX_VERSION}, MLX {mlx_version} ({})", mlx::ORIGIN);
            let notes = [Some(format!("burn-mlx device {device}")), auto_note].into_iter().flatten().collect();
            let ready = ReadyFacts { backend, device: name, framework_version, notes };
            run::<burn_mlx::Mlx>(args, device, ready, mlx::peak_memory_bytes, process_start);
        }
        #[cfg(feature = "ndarray")]
        "ndarray" => {
            let ready = ReadyFacts {
                backend: "cpu",
                device: chip_name(),
                framework_version: format!("burn {BURN_VERSION} (burn-ndarray)"),
                notes: vec!["burn-ndarray 0.16 CPU backend (checks the model code without MLX)".into()],
            };
            run::<burn::backend::NdArray>(args, Default::default(), ready, || None, process_start);
        }
        other => fatal("internal", &format!("--backend {other}: not compiled in")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_versions_match_cargo_toml() {
        let manifest = include_str!("../Cargo.toml");
        assert!(manifest.contains(&format!("burn = {{ version = \"={BURN_VERSION}\"")), "burn pin");
        assert!(manifest.contains(&format!("burn-mlx = {{ version = \"={BURN_MLX_VERSION}\"")), "burn-mlx pin");
    }
}
