//! `qwen3-burn-runner --bench-kernels`: each custom kernel against Burn's own operation on
//! Qwen3-0.6B's decode shapes, checked against an f32 product and timed (a GPU-host probe, not
//! part of the benchmark protocol).
//!
//! Timing: `LAUNCHES` products per run, cycling through enough distinct weight copies that each
//! product reads its weight from device memory (together several times a 50 MB L2), recorded once
//! as a device graph where the backend records graphs (CUDA) so that launch overhead stays out, and
//! replayed `REPLAYS` times; the time per product is the median replay's wall time over
//! `LAUNCHES`. Without graphs the products are issued one by one (the number then includes host
//! overhead, and says so).

use burn::tensor::{DType, Device, Distribution, Tensor};
use burn_backend::{Backend, BackendGraph};
use burn_dispatch::Dispatch;
use std::time::Instant;
use super::{BenchSize, Third};
use super::launch::{DeviceFacts, vector_width};
use super::ops::gemv_laid_out;

/// Decode-step products of Qwen3-0.6B as this runner runs them: `(name, in, out)`.
pub const SHAPES: [(&str, usize, usize); 5] = [
    ("qkv 1024->4096", 1024, 4096),
    ("o 2048->1024", 2048, 1024),
    ("gate_up 1024->6144", 1024, 6144),
    ("down 3072->1024", 3072, 1024),
    ("lm_head 1024->151936", 1024, 151_936),
];

/// Bytes of distinct weights cycled per shape (8x a 50 MB L2).
const CYCLED_BYTES: usize = 400 << 20;
const LAUNCHES: usize = 64;
const REPLAYS: usize = 30;

/// Products per timed run and runs timed.
fn counts(size: BenchSize) -> (usize, usize) {
    match size {
        BenchSize::Full => (LAUNCHES, REPLAYS),
        BenchSize::Quick => (2, 1),
    }
}

/// Runs the benchmark on `device` in `dtype` and prints one table (and a JSON line per shape).
pub fn run(device: &Device, dtype: DType, size: BenchSize) -> Result<(), String> {
    // The layouts a launch on this device can take are those its plane width allows.
    let plane = DeviceFacts::of_device(device)?.plane as usize;
    println!("| shape | weight MB | custom µs | custom GB/s | burn µs | burn GB/s | rel. error custom | rel. error burn | timing |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut layout_rows = Vec::new();
    for (name, in_features, out_features) in SHAPES {
        let weight_bytes = in_features * out_features * dtype.size();
        let (launches, _) = counts(size);
        let copies = CYCLED_BYTES.div_ceil(weight_bytes).clamp(2, launches);
        let normal = Distribution::Normal(0.0, 0.05);
        let x = Tensor::<3>::random([1, 1, in_features], Distribution::Normal(0.0, 1.0), (device, dtype));
        let rows: Vec<Tensor<2>> = (0..copies).map(|_| Tensor::random([out_features, in_features], normal, (device, dtype))).collect();
        // Burn's layout in the runner, `[1, in, out]`, made contiguous once as at load.
        let cols: Vec<Tensor<3>> = rows.iter().map(|w| super::rows_of(w).unsqueeze::<3>()).collect();

        let reference = x.clone().cast(DType::F32).matmul(rows[0].clone().cast(DType::F32).transpose().unsqueeze::<3>());
        let error = |y: Tensor<3>| relative_error(y.cast(DType::F32), reference.clone());
        let error_custom = error(super::gemv(x.clone(), &rows[0], Third::Neither, false));
        let error_burn = error(x.clone().matmul(cols[0].clone()));
        let gbps = |seconds: f64| weight_bytes as f64 / seconds / 1e9;

        let (custom_s, graph) = time_per_launch(device, size, &mut || (0..launches).map(|i| super::gemv(x.clone(), &rows[i % copies], Third::Neither, false)).collect())?;
        // The kernel's other launch layouts on this shape, for its choice (`Layout::for_shape`).
        let vectors = in_features / vector_width(in_features, dtype);
        let mut layouts = Vec::new();
        for layout in super::gemv::Layout::CANDIDATES.into_iter().filter(|l| l.fits(vectors, plane)) {
            let run = &mut || (0..launches).map(|i| gemv_laid_out(x.clone(), &rows[i % copies], layout)).collect();
            let (seconds, _) = time_per_launch(device, size, run)?;
            let error = error(gemv_laid_out(x.clone(), &rows[0], layout));
            layouts.push(serde_json::json!({"layout": layout.name(), "s": seconds, "rel_error": error}));
            layout_rows.push(format!("| {name} | {} | {:.2} | {:.0} | {error:.1e} |", layout.name(), seconds * 1e6, gbps(seconds)));
        }
        let (burn_s, _) = time_per_launch(device, size, &mut || (0..launches).map(|i| x.clone().matmul(cols[i % copies].clone())).collect())?;
        let timing = if graph { "graph replay" } else { "no graph: includes host overhead" };
        println!(
            "| {name} | {:.1} | {:.2} | {:.0} | {:.2} | {:.0} | {error_custom:.1e} | {error_burn:.1e} | {timing} |",
            weight_bytes as f64 / 1e6,
            custom_s * 1e6,
            gbps(custom_s),
            burn_s * 1e6,
            gbps(burn_s),
        );
        eprintln!(
            "{}",
            serde_json::json!({"shape": name, "in": in_features, "out": out_features, "weight_bytes": weight_bytes, "copies": copies,
                "custom_s": custom_s, "burn_s": burn_s, "layouts": layouts, "rel_error_custom": error_custom, "rel_error_burn": error_burn, "graph": graph})
        );
    }
    println!("\n| shape | layout (rows a cube, planes a row) | custom µs | custom GB/s | rel. error |\n|---|---|---:|---:|---:|");
    println!("{}", layout_rows.join("\n"));
    Ok(())
}

/// ‖y − reference‖ / ‖reference‖ over all elements, in f32.
fn relative_error(y: Tensor<3>, reference: Tensor<3>) -> f64 {
    let diff: f64 = (y - reference.clone()).square().sum().into_scalar::<f32>() as f64;
    let norm: f64 = reference.square().sum().into_scalar::<f32>() as f64;
    (diff / norm).sqrt()
}

/// Seconds per product of `run` (which issues `launches` of them), and whether a graph was used.
fn time_per_launch(device: &Device, size: BenchSize, run: &mut dyn FnMut() -> Vec<Tensor<3>>) -> Result<(f64, bool), String> {
    let (launches, replays) = counts(size);
    let dispatch = device.as_dispatch();
    let sync = || Dispatch::sync(dispatch).map_err(|e| format!("sync: {e}"));
    // As in src/step_graph.rs: prepare the allocator, then compile and autotune (three runs)
    // before anything is recorded or timed.
    let graphs = Dispatch::graph_prepare(dispatch).is_ok();
    for _ in 0..3 {
        let outputs = run();
        sync()?;
        drop(outputs);
    }
    let graph = if graphs { capture(dispatch, run) } else { None };
    let mut times = Vec::with_capacity(replays);
    for _ in 0..replays {
        let start = Instant::now();
        let outputs = match &graph {
            Some((graph, _)) => {
                // SAFETY: the recorded outputs are kept alive in `graph.1`; the inputs live in the caller.
                unsafe { Dispatch::graph_replay(dispatch, graph) }.map_err(|e| format!("replay: {e}"))?;
                Vec::new()
            }
            None => run(),
        };
        sync()?;
        times.push(start.elapsed().as_secs_f64());
        drop(outputs);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[replays / 2] / launches as f64, graph.is_some()))
}

/// Records one `run` as a device graph, with the outputs it wrote, or `None` where the backend
/// records none.
fn capture(dispatch: &burn_dispatch::DispatchDevice, run: &mut dyn FnMut() -> Vec<Tensor<3>>) -> Option<(BackendGraph<Dispatch>, Vec<Tensor<3>>)> {
    Dispatch::graph_start_capture(dispatch).ok()?;
    let outputs = run();
    let graph = Dispatch::graph_stop_capture(dispatch).ok()?;
    Some((graph, outputs))
}
