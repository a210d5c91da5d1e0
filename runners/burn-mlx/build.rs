//! Linux with a prebuilt MLX (bench/harness/setup/burn-mlx-build.ts sets the two variables below):
//! the patched mlx-sys-burn links the shared libmlx from `$QWEN3_BENCH_SYSTEM_MLX/lib`, and this
//! binary records that folder as its rpath, so it runs without LD_LIBRARY_PATH. (A dependency's
//! build script cannot add link arguments to its dependents' binaries: only this crate's can.)
//! `QWEN3_BENCH_SYSTEM_MLX_ORIGIN` names where that MLX came from, for the runner's ready line.
//! Without them (macOS, the published build) this does nothing.

fn main() {
    println!("cargo:rerun-if-env-changed=QWEN3_BENCH_SYSTEM_MLX");
    println!("cargo:rerun-if-env-changed=QWEN3_BENCH_SYSTEM_MLX_ORIGIN");
    let Ok(prefix) = std::env::var("QWEN3_BENCH_SYSTEM_MLX") else { return };
    if std::env::var_os("CARGO_FEATURE_MLX").is_none() {
        return;
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,{prefix}/lib");
    let origin = std::env::var("QWEN3_BENCH_SYSTEM_MLX_ORIGIN").unwrap_or_else(|_| format!("prebuilt MLX in {prefix}"));
    println!("cargo:rustc-env=QWEN3_MLX_ORIGIN={origin}");
}
