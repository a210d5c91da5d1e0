//! The command line: which model, dtype, backend and device, the runner's variants
//! (`--attention`, `--decode-graph`, `--kernels`, `--memory-plan`, `--quant`), each with its default, and its
//! diagnostics (`--step-times`, `--op-count`, `--host-profile`). Flags only: the harness passes a
//! variant's and a profiler's flags to the runner it starts, so no setting hides in the environment.

use crate::memory::MemoryPlan;
use crate::model::{ONE_PASS, PREFILL_CHUNK};
use crate::quant::WeightQuant;
use crate::generate::Diagnostics;
use crate::kernels::{BenchSize, Kernels, SPLIT_FROM};
use crate::sdpa::AttentionKernel;
use crate::self_bench::SelfBench;
use burn::tensor::DType;
use std::path::PathBuf;

pub const USAGE: &str = "usage: qwen3-burn-runner --model DIR [--dtype f16|bf16|f32] \
[--backend cpu|wgpu|cuda|metal|ndarray] [--device auto|N] [--attention burn|explicit] \
[--decode-graph on|off] [--memory-plan default|fitted] [--quant none|q8|q4] [--self-bench P,N,R] [--kernels burn|custom|PART+PART|custom+rows] [--split-from SLOTS] [--prefill-chunk N] [--chunk-attention explicit|burn] \
[--step-times] [--op-count] [--host-profile FILE]\n       qwen3-burn-runner --list-backends\n       \
qwen3-burn-runner --bench-kernels|--bench-kernels-quick [--backend B] [--dtype D]\n       \
qwen3-burn-runner --check-flags [--backend B] [FLAGS]\n       \
qwen3-burn-runner --model DIR --bench-prefill L [FLAGS]";

pub struct Args {
    pub model_dir: PathBuf,
    pub dtype: DType,
    pub backend: String,
    /// `None`: `auto`.
    pub device: Option<usize>,
    pub attention: AttentionKernel,
    /// Capture the decode step as a graph and replay it per token where the backend can
    /// (src/step_graph.rs; CUDA and wgpu here, flex refuses). `off` issues every step's
    /// operations (a diagnostic; the harness runs the default).
    pub decode_graph: bool,
    /// Burn's own operations or this runner's CubeCL kernels on the decode path (src/kernels/).
    pub kernels: Kernels,
    /// With `split` in the kernels, a cache of more than this many slots splits the attention's
    /// walk, a shorter one keeps one cube per KV head where it fits (0: every cache splits);
    /// [`SPLIT_FROM`] by default. Given without `split`, refused.
    pub split_from: usize,
    /// Time the custom kernels against Burn's operations and exit (src/kernels/bench.rs).
    pub bench_kernels: Option<BenchSize>,
    /// How device memory is laid out (src/memory.rs): `fitted` (the default), or Burn's own pools
    /// (`default`).
    pub memory_plan: MemoryPlan,
    /// The linear layers' weights in the run dtype or quantized by Burn (src/quant.rs).
    pub quant: WeightQuant,
    /// Time R generations of N tokens from a P-token prompt without the protocol, then exit.
    pub self_bench: Option<SelfBench>,
    /// `--bench-prefill L`: time an L-token prefill and its chunk's attention piece by piece, then
    /// exit (src/prefill_bench.rs).
    pub bench_prefill: Option<usize>,
    /// The longest prompt prefilled in one pass; a longer one runs in chunks of this many tokens
    /// (src/model.rs); the default per backend and attention is [`default_prefill_chunk`].
    pub prefill_chunk: usize,
    /// How a long prompt's chunks attend (src/sdpa); the default per backend is
    /// [`default_chunk_attention`].
    pub chunk_attention: AttentionKernel,
    /// Per-request diagnostics on stderr (`--step-times`, `--op-count`).
    pub diagnostics: Diagnostics,
    /// `--host-profile FILE`: host stacks sampled into FILE (src/host_profile.rs).
    pub host_profile: Option<PathBuf>,
    /// `--check-flags`: say whether these flags run together on the backend (the start-up's
    /// refusals, without a model or a device), then exit: the harness's `doctor` and skip lines
    /// ask here rather than keep a copy of the rules.
    pub check_flags: bool,
}

/// Backends compiled into this binary, best first; `--backend` defaults to the first.
pub fn compiled_backends() -> Vec<&'static str> {
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

/// `burn` on CUDA: Burn 0.22.0-pre.3's CUDA backend decodes the explicit attention wrongly (tokens
/// outside the teacher-forced top 3 on the H200, where the CPU backend agrees with its prefill;
/// see README, "Decode graph"), and Burn's op was the faster there. `explicit` elsewhere: the
/// faster on the CPU (flex).
pub fn default_attention(backend: &str) -> AttentionKernel {
    if backend == "cuda" { AttentionKernel::Burn } else { AttentionKernel::Explicit }
}

/// `burn` on the CPU (flex): Burn's op prefilled 4,096 tokens in chunks 1.7–1.9× faster than the
/// explicit form, 8,192 1.2× (tiny model, f32 and f16, 2-core Xeon, 2026-12-07; README, "Long
/// prompts"). `explicit` elsewhere: on CUDA one chunk's attention took 0.1 ms with `burn` and 0.6 ms
/// explicit, the whole 4,096-token prefill 16.7–16.8 s with either (H100, 2026-12-07), and `burn`'s
/// tokens there are not yet checked by the harness.
pub fn default_chunk_attention(backend: &str) -> AttentionKernel {
    if backend == "cpu" { AttentionKernel::Burn } else { AttentionKernel::Explicit }
}

/// Every prompt in one pass ([`ONE_PASS`]) where its attention is Burn's op on CUDA, a flash kernel
/// whose memory grows with the prompt, not its square: on one H100 (2026-12-07/08) a 4,096-token
/// prefill took 124–137 ms in one pass and 16.7 s in chunks of 2,048 (with chunks of 512 or 1,024
/// the probe did not finish within 50 s; the seconds are not in the chunks' attention, and their
/// cause is still open; README, "Long prompts"). Elsewhere chunks of [`PREFILL_CHUNK`]: the
/// explicit attention holds a `prompt × prompt` score matrix (34 GB a layer in f16 at 32k), and
/// the CPU's chunks are as fast as one pass.
pub fn default_prefill_chunk(backend: &str, attention: AttentionKernel) -> usize {
    if backend == "cuda" && attention == AttentionKernel::Burn { ONE_PASS } else { PREFILL_CHUNK }
}

fn parse_attention(name: &str) -> Result<AttentionKernel, String> {
    match name {
        "burn" => Ok(AttentionKernel::Burn),
        "explicit" => Ok(AttentionKernel::Explicit),
        other => Err(format!("unknown attention {other:?} (burn, explicit)")),
    }
}

pub fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut model_dir = None;
    let mut dtype = DType::F16;
    let mut backend = compiled_backends().first().map(|b| b.to_string());
    let mut device = None;
    let mut attention = None;
    let mut decode_graph = true;
    let mut kernels = Kernels::BURN;
    let mut bench_kernels = None;
    let mut memory_plan = MemoryPlan::Fitted;
    let mut quant = WeightQuant::None;
    let mut self_bench = None;
    let mut bench_prefill = None;
    let mut diagnostics = Diagnostics::default();
    let mut host_profile = None;
    let mut check_flags = false;
    let mut prefill_chunk = None;
    let mut chunk_attention = None;
    let mut split_from = None;
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
            "--attention" => attention = Some(parse_attention(&value()?).map_err(|e| format!("--attention: {e}"))?),
            "--decode-graph" => {
                decode_graph = match value()?.as_str() {
                    "on" => true,
                    "off" => false,
                    other => return Err(format!("--decode-graph: expected on or off, got {other:?}")),
                }
            }
            "--memory-plan" => memory_plan = MemoryPlan::parse(&value()?)?,
            "--quant" => quant = WeightQuant::parse(&value()?)?,
            "--self-bench" => self_bench = Some(SelfBench::parse(&value()?)?),
            "--bench-prefill" => {
                let v = value()?;
                bench_prefill = Some(v.parse().ok().filter(|&n: &usize| n > 1).ok_or_else(|| format!("--bench-prefill: expected a prompt length ≥ 2 tokens, got {v:?}"))?);
            }
            "--kernels" => kernels = Kernels::parse(&value()?).map_err(|e| format!("--kernels: {e}"))?,
            "--split-from" => {
                let v = value()?;
                split_from = Some(v.parse().map_err(|_| format!("--split-from: expected a number of cache slots (0: split every cache), got {v:?}"))?);
            }
            "--bench-kernels" => bench_kernels = Some(BenchSize::Full),
            "--bench-kernels-quick" => bench_kernels = Some(BenchSize::Quick),
            "--check-flags" => check_flags = true,
            "--prefill-chunk" => {
                let v = value()?;
                prefill_chunk = Some(v.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| format!("--prefill-chunk: expected a number of tokens ≥ 1, got {v:?}"))?);
            }
            "--chunk-attention" => chunk_attention = Some(parse_attention(&value()?).map_err(|e| format!("--chunk-attention: {e}"))?),
            "--step-times" => diagnostics.step_times = true,
            "--op-count" if cfg!(feature = "op-count") => diagnostics.op_count = true,
            "--op-count" => return Err("--op-count: this binary was built without the `op-count` feature".into()),
            "--host-profile" if cfg!(feature = "pprof") => host_profile = Some(PathBuf::from(value()?)),
            "--host-profile" => return Err("--host-profile: this binary was built without the `pprof` feature".into()),
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    let model_dir = match (model_dir, bench_kernels.is_some() || check_flags) {
        (Some(dir), _) => dir,
        (None, true) => PathBuf::new(),
        (None, false) => return Err(format!("--model is required; {USAGE}")),
    };
    let backend = backend.ok_or("this binary was built without a backend feature (cpu, wgpu, cuda, metal)")?;
    if !compiled_backends().contains(&backend.as_str()) {
        return Err(format!("--backend {backend}: not compiled in (built with: {:?})", compiled_backends()));
    }
    let attention = attention.unwrap_or(default_attention(&backend));
    let chunk_attention = chunk_attention.unwrap_or(default_chunk_attention(&backend));
    let prefill_chunk = prefill_chunk.unwrap_or(default_prefill_chunk(&backend, attention));
    if quant != WeightQuant::None && kernels.gemv {
        return Err(format!("--quant {}: this runner's matrix-vector kernel reads float weights; run --kernels without gemv", quant.name()));
    }
    if let Some(slots) = split_from.filter(|_| !kernels.split) {
        return Err(format!("--split-from {slots}: moves where the attention kernel's walk splits, which needs kernels part split; run --kernels custom (or with attention+split)"));
    }
    let split_from = split_from.unwrap_or(SPLIT_FROM);
    Ok(Args { model_dir, dtype, backend, device, attention, decode_graph, memory_plan, quant, self_bench, bench_prefill, prefill_chunk, chunk_attention, kernels, split_from, bench_kernels, diagnostics, host_profile, check_flags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let args = |s: &str| parse_args(s.split_whitespace().map(str::to_owned));
        if cfg!(feature = "cpu") {
            let parsed = args("--model m --backend cpu").ok().unwrap();
            assert_eq!(parsed.dtype, DType::F16);
            assert_eq!(parsed.device, None);
            assert!(args("--model m --backend cpu --dtype f64").err().unwrap().starts_with("--dtype"));
            assert!(parsed.decode_graph);
            assert_eq!(parsed.attention, AttentionKernel::Explicit);
            assert!(!args("--model m --backend cpu --decode-graph off").ok().unwrap().decode_graph);
            assert!(args("--model m --backend cpu --decode-graph maybe").err().unwrap().starts_with("--decode-graph"));
        }
        assert_eq!(default_attention("cuda"), AttentionKernel::Burn);
        assert_eq!(default_attention("wgpu"), AttentionKernel::Explicit);
        assert!(args("--model m --attention flash").err().unwrap().starts_with("--attention: unknown attention \"flash\""));
        assert_eq!(args("--model m --attention burn").ok().unwrap().attention, AttentionKernel::Burn);
        assert!(args("--backend cpu").err().unwrap().contains("--model is required"));
        assert!(args("--model m --bogus").err().unwrap().contains("unknown argument"));
        assert_eq!(args("--model m").ok().unwrap().kernels, Kernels::BURN);
        assert_eq!(args("--model m --kernels custom").ok().unwrap().kernels, Kernels::CUSTOM);
        let gemv_norm = args("--model m --kernels gemv+norm").ok().unwrap().kernels;
        assert_eq!(gemv_norm, Kernels { gemv: true, norm: true, attention: false, fuse: false, prenorm: false, split: false, rows: false });
        assert_eq!(gemv_norm.name(), "gemv+norm");
        assert_eq!(Kernels::parse("attention+norm+gemv").unwrap().name(), "gemv+norm+attention");
        assert_eq!(Kernels::parse("fuse+attention+norm+gemv").unwrap().name(), "gemv+norm+attention+fuse");
        assert_eq!(Kernels::parse("prenorm+fuse+attention+norm+gemv").unwrap().name(), "gemv+norm+attention+fuse+prenorm");
        assert_eq!(Kernels::parse("split+prenorm+fuse+attention+norm+gemv").unwrap().name(), "custom");
        assert!(Kernels::parse("gemv+split").unwrap_err().contains("add attention (attention+split)"));
        assert!(Kernels::parse("norm+fuse").unwrap_err().contains("add gemv (gemv+fuse)"));
        assert!(Kernels::parse("attention+prenorm").unwrap_err().contains("add gemv (gemv+prenorm)"));
        assert_eq!(Kernels::BURN.describe(), "kernels=burn (Burn's own operations)");
        assert_eq!(gemv_norm.describe(), "kernels=gemv+norm: this runner's CubeCL kernels for the decode step's matrix-vector products, RMSNorm");
        assert!(args("--model m --kernels gemv+fast").err().unwrap().starts_with("--kernels: unknown kernels \"fast\""));
        assert!(args("--model m --kernels fast").err().unwrap().starts_with("--kernels: unknown kernels"));
        assert_eq!(args("--bench-kernels").ok().unwrap().bench_kernels, Some(BenchSize::Full));
        assert_eq!(args("--bench-kernels-quick").ok().unwrap().bench_kernels, Some(BenchSize::Quick));
        assert_eq!(args("--model m").ok().unwrap().bench_kernels, None);
        let diagnostics = args("--model m --step-times").ok().unwrap().diagnostics;
        assert!(diagnostics.step_times && !diagnostics.op_count);
        if !cfg!(feature = "op-count") {
            assert!(args("--model m --op-count").err().unwrap().contains("built without the `op-count` feature"));
        }
        if !cfg!(feature = "pprof") {
            assert!(args("--model m --host-profile /tmp/x").err().unwrap().contains("built without the `pprof` feature"));
        }
        assert_eq!(args("--model m").ok().unwrap().memory_plan, MemoryPlan::Fitted);
        assert_eq!(args("--model m --memory-plan default").ok().unwrap().memory_plan, MemoryPlan::Default);
        assert!(args("--model m --memory-plan tiny").err().unwrap().contains("--memory-plan"));
        assert_eq!(args("--model m").ok().unwrap().quant, WeightQuant::None);
        assert_eq!(args("--model m --quant q4").ok().unwrap().quant, WeightQuant::Q4);
        assert!(args("--model m --quant q3").err().unwrap().starts_with("--quant must be"));
        assert!(args("--model m --quant q8 --kernels custom").err().unwrap().contains("run --kernels without gemv"));
        assert!(args("--model m --quant q8 --kernels attention+norm").is_ok());
        // --check-flags: the same checks without a model (main exits after Kernels::check).
        let checked = args("--check-flags --kernels custom").ok().unwrap();
        assert!(checked.check_flags && checked.model_dir.as_os_str().is_empty());
        assert!(args("--check-flags --quant q8 --kernels gemv").err().unwrap().contains("run --kernels without gemv"));
        assert!(!args("--model m").ok().unwrap().check_flags);
        let parsed = args("--model m").ok().unwrap();
        assert_eq!(parsed.prefill_chunk, default_prefill_chunk(&parsed.backend, parsed.attention));
        assert_eq!(default_prefill_chunk("cpu", AttentionKernel::Explicit), PREFILL_CHUNK);
        assert_eq!(default_prefill_chunk("wgpu", AttentionKernel::Explicit), PREFILL_CHUNK);
        assert_eq!(default_prefill_chunk("cuda", AttentionKernel::Burn), ONE_PASS);
        assert_eq!(default_prefill_chunk("cuda", AttentionKernel::Explicit), PREFILL_CHUNK);
        assert_eq!(args("--model m --prefill-chunk 65536").ok().unwrap().prefill_chunk, 65536);
        assert!(args("--model m --prefill-chunk 0").err().unwrap().starts_with("--prefill-chunk: expected a number of tokens"));
        assert_eq!(args("--model m --chunk-attention explicit").ok().unwrap().chunk_attention, AttentionKernel::Explicit);
        assert_eq!(args("--model m --chunk-attention burn").ok().unwrap().chunk_attention, AttentionKernel::Burn);
        assert_eq!(default_chunk_attention("cpu"), AttentionKernel::Burn);
        assert_eq!(default_chunk_attention("cuda"), AttentionKernel::Explicit);
        assert!(args("--model m --chunk-attention flash").err().unwrap().starts_with("--chunk-attention: unknown attention"));
        assert_eq!(args("--model m --bench-prefill 4096").ok().unwrap().bench_prefill, Some(4096));
        assert!(args("--model m --bench-prefill 1").err().unwrap().starts_with("--bench-prefill: expected a prompt length"));
    }

    /// `--split-from` moves `split`'s threshold: any count of slots, 0 included, and only with
    /// `split` in the kernels (whichever flag comes first); without it, [`SPLIT_FROM`] under any.
    #[test]
    fn split_from_needs_split() {
        let args = |s: &str| parse_args(s.split_whitespace().map(str::to_owned));
        assert_eq!(args("--model m").ok().unwrap().split_from, SPLIT_FROM);
        assert_eq!(args("--model m --kernels custom").ok().unwrap().split_from, 256);
        assert_eq!(args("--model m --kernels custom --split-from 256").ok().unwrap().split_from, 256);
        assert_eq!(args("--model m --split-from 0 --kernels attention+split").ok().unwrap().split_from, 0);
        for bad in ["-1", "many", "2.5"] {
            let error = args(&format!("--model m --kernels custom --split-from {bad}")).err().unwrap();
            assert!(error.starts_with("--split-from: expected a number of cache slots"), "{error}");
        }
        assert_eq!(args("--model m --kernels custom --split-from").err().unwrap(), "--split-from: missing value");
        for kernels in ["burn", "gemv+norm+attention+fuse+prenorm"] {
            let error = args(&format!("--model m --split-from 256 --kernels {kernels}")).err().unwrap();
            assert!(error.starts_with("--split-from 256: ") && error.contains("needs kernels part split"), "{error}");
        }
        assert!(args("--check-flags --split-from 256").err().unwrap().contains("needs kernels part split"));
    }

    /// `rows` (one weight layout) is a part of its own: with `gemv`, not in `custom`, and added to
    /// it as `custom+rows`; the names read back as parsed.
    #[test]
    fn kernels_rows_part() {
        let args = |s: &str| parse_args(s.split_whitespace().map(str::to_owned));
        let custom_rows = args("--model m --kernels custom+rows").ok().unwrap().kernels;
        assert_eq!(custom_rows, Kernels { rows: true, ..Kernels::CUSTOM });
        assert!(!Kernels::CUSTOM.rows, "custom keeps both layouts");
        assert_eq!(custom_rows.name(), "custom+rows");
        assert_eq!(Kernels::parse("rows+custom"), Ok(custom_rows));
        assert_eq!(Kernels::parse("custom+gemv"), Ok(Kernels::CUSTOM));
        assert_eq!(Kernels::CUSTOM.name(), "custom");
        let gemv_rows = args("--model m --kernels rows+gemv").ok().unwrap().kernels;
        assert_eq!(gemv_rows, Kernels { gemv: true, rows: true, ..Kernels::BURN });
        assert_eq!(gemv_rows.name(), "gemv+rows");
        assert_eq!(Kernels::parse("gemv+norm+attention+fuse+prenorm+split+rows").unwrap().name(), "custom+rows");
        assert_eq!(Kernels::parse("gemv+fuse+prenorm+rows").unwrap().name(), "gemv+fuse+prenorm+rows");
        for kernels in [custom_rows, gemv_rows, Kernels::CUSTOM, Kernels::BURN] {
            assert_eq!(Kernels::parse(&kernels.name()), Ok(kernels));
        }
        assert!(args("--model m --kernels rows").err().unwrap().contains("add gemv (gemv+rows)"));
        assert!(args("--model m --kernels norm+rows").err().unwrap().contains("add gemv (gemv+rows)"));
        assert!(args("--model m --kernels custom+fast").err().unwrap().starts_with("--kernels: unknown kernels \"fast\""));
        assert!(args("--model m --kernels burn+rows").err().unwrap().starts_with("--kernels: unknown kernels \"burn\""));
        assert!(gemv_rows.describe().ends_with("one weight layout (the kernel's [out, in] rows also serve prefill; Burn's [in, out] copy not kept)"));
        assert!(args("--model m --quant q8 --kernels custom+rows").err().unwrap().contains("run --kernels without gemv"));
    }
}
