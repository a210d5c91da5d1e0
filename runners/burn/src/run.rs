//! A runner's life: load the model on the device, warm up and check decode against prefill, say
//! `ready`, then serve requests until shutdown.

use crate::backend::BackendInfo;
use crate::build_info;
use crate::checkpoint::Checkpoint;
use crate::cli::Args;
use crate::config::Qwen3Config;
use crate::decode_check::{DECODE_CHECK_TOP_K, WARM_UP_PROMPT, WARM_UP_TOKENS, check_decode_against_prefill};
use crate::engine::BurnEngine;
use crate::fatal::{fatal, or_fatal};
use crate::generate::{self, Generator};
use crate::host_profile::HostProfile;
use crate::prefill_bench;
use crate::memory;
use crate::model::{Model, ONE_PASS};
use crate::protocol::{self, Limits, Ready};
use burn::tensor::{DType, Device, FloatDType, IntDType};
use std::rc::Rc;
use std::time::Instant;

fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F16 => "f16",
        DType::BF16 => "bf16",
        _ => "f32",
    }
}

pub fn run(args: Args, mut device: Device, mut info: BackendInfo, process_start: Instant) {
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
    let plan = args.memory_plan.on(&device);
    plan.install(&device).unwrap_or_else(|e| fatal("internal", &e));
    let model = or_fatal("loading weights onto the device", || plan.load(&device, |_| Model::load(config.clone(), &checkpoint, &device, dtype, args.attention, args.kernels, args.quant)))
        .unwrap_or_else(|e| fatal("model", &e));
    drop(checkpoint);
    let after_load = memory::snapshot(&device);
    let model = Rc::new(model.with_prefill_chunk(args.prefill_chunk).with_chunk_attention(args.chunk_attention).with_split_from(args.split_from));

    // One short warm-up so kernel compilation, autotuning of the common shapes and the capture of
    // the first decode graph happen here.
    let mut generator = Generator::new(model.clone(), args.decode_graph, args.diagnostics);
    let warm_up = or_fatal("the warm-up forward pass", || generator.generate(&WARM_UP_PROMPT, WARM_UP_TOKENS, Instant::now()));
    let decoder = generator.decoder(generate::capacity_for(WARM_UP_PROMPT.len(), WARM_UP_TOKENS));
    let (graph, capture_error) = (decoder.is_graph(), decoder.capture_error.clone());
    let hint = if graph { "; try --decode-graph off or another --attention" } else { "; try another --attention" };
    or_fatal("checking decode against prefill", || check_decode_against_prefill(&model, &warm_up.token_ids))
        .unwrap_or_else(|e| fatal("internal", &format!("{e}{hint}")));
    let after_warm_up = memory::snapshot(&device);
    plan.after_warm_up(&device);
    if plan == memory::MemoryPlan::Fitted {
        // The cleanup must leave the captured decode step intact: decode the warm-up again.
        let again = or_fatal("decoding after the memory cleanup", || generator.generate(&WARM_UP_PROMPT, WARM_UP_TOKENS, Instant::now()));
        if again.token_ids != warm_up.token_ids {
            fatal("internal", "--memory-plan fitted: decode changed after the memory cleanup; run --memory-plan default");
        }
    }
    let after_cleanup = memory::snapshot(&device);

    info.notes.push(format!("burn device {device:?}"));
    info.notes.push(format!("attention={}", args.attention.name()));
    info.notes.push(args.kernels.describe());
    info.notes.push(args.quant.describe());
    info.notes.push(format!("memory-plan={}", plan.name()));
    info.notes.push(match args.prefill_chunk {
        ONE_PASS => "prefill-chunk=none: every prompt in one pass".to_owned(),
        chunk => format!("prefill-chunk={chunk}: prompts up to that many tokens in one pass, longer ones in chunks of it"),
    });
    info.notes.push(format!("chunk-attention={}: how a longer prompt's chunks attend", args.chunk_attention.name()));
    if args.kernels.split {
        info.notes.push(format!("split-from={}: caches of more slots split the attention kernel's walk", args.split_from));
    }
    let breakdown = memory::summary(&[("after load", &after_load), ("after warm-up", &after_warm_up), ("ready", &after_cleanup)]);
    if !breakdown.is_empty() {
        info.notes.push(breakdown);
        eprintln!("qwen3-burn-runner memory: {}", serde_json::json!({ "after_load": after_load, "after_warm_up": after_warm_up, "ready": after_cleanup }));
    }
    info.notes.push(format!("warm-up decode within the top {DECODE_CHECK_TOP_K} of a teacher-forced prefill"));
    info.notes.push(match (args.decode_graph, graph) {
        (true, true) => "decode step: one captured graph replayed per token".to_owned(),
        (true, false) => format!("decode step: plain, the backend refused a graph: {}", capture_error.unwrap_or_default()),
        (false, _) => "decode step: plain (--decode-graph off)".to_owned(),
    });
    let ready = Ready {
        framework: "burn".into(),
        framework_version: build_info::BURN_VERSION.into(),
        backend: info.backend.into(),
        device: info.device_name,
        dtype: dtype_name(dtype).into(),
        parameter_count: model.parameter_count,
        load_time_ms: process_start.elapsed().as_secs_f64() * 1000.0,
        fusion: info.fusion,
        autotune: info.autotune,
        notes: info.notes,
        build: Some(build_info::runner_build()),
    };
    println!("{}", ready.to_line());
    if let Some(bench) = &args.self_bench {
        bench.run(&mut generator);
        return;
    }
    if let Some(len) = args.bench_prefill {
        or_fatal("the prefill benchmark", || prefill_bench::run(&model, len, args.prefill_chunk));
        return;
    }

    let limits = Limits { vocab_size: config.vocab_size, max_positions: config.max_position_embeddings };
    let mut engine = BurnEngine { generator, host_profile: HostProfile::new(args.host_profile.clone()), peak_device_bytes: None };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    if let Err(e) = protocol::serve(stdin.lock(), stdout.lock(), &mut engine, limits) {
        eprintln!("qwen3-burn-runner: I/O error: {e}");
        std::process::exit(1);
    }
    engine.host_profile.finish();
}
