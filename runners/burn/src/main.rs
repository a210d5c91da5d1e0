//! `qwen3-burn-runner`: Qwen3 on Burn behind the JSON-lines protocol of `runners/PROTOCOL.md`.

mod backend;
mod build_info;
mod cache;
mod checkpoint;
mod cli;
mod config;
mod decode_check;
mod engine;
mod fatal;
mod generate;
mod host_profile;
mod kernels;
mod memory;
mod model;
mod nn;
mod op_count;
mod prefill_bench;
mod protocol;
mod quant;
mod run;
mod sdpa;
mod self_bench;
mod step_graph;
mod weights;

use std::time::Instant;

fn main() {
    let process_start = Instant::now();
    fatal::record_panics();
    // The harness asks which backends this binary holds (bench/harness/setup/burn-build.ts).
    if std::env::args().nth(1).as_deref() == Some("--list-backends") {
        println!("{}", cli::compiled_backends().join(" "));
        return;
    }
    let args = cli::parse_args(std::env::args().skip(1)).unwrap_or_else(|e| fatal::fatal("internal", &e));
    let kernels = if args.bench_kernels.is_some() { kernels::Kernels::CUSTOM } else { args.kernels };
    kernels.check(&args.backend).unwrap_or_else(|e| fatal::fatal("internal", &e));
    if args.check_flags {
        println!("ok");
        return;
    }
    let (device, info) = backend::open(&args);
    #[cfg(feature = "kernels")]
    if let Some(size) = args.bench_kernels {
        fatal::or_fatal("the kernel benchmark", || kernels::bench::run(&device, args.dtype, size)).unwrap_or_else(|e| fatal::fatal("internal", &e));
        return;
    }
    run::run(args, device, info, process_start);
}
