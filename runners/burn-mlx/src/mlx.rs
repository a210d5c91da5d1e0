//! What the runner asks MLX itself, through the C API of the same build burn-mlx links
//! (`mlx-sys-burn`): which device to use, MLX's version, and its peak allocation.

use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;

/// The last message MLX's error handler received.
static LAST_ERROR: Mutex<Option<String>> = Mutex::new(None);

extern "C" fn record_error(message: *const c_char, _data: *mut c_void) {
    // SAFETY: MLX passes a NUL-terminated message that lives for the call.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned();
    *LAST_ERROR.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
}

/// mlx-c's default error handler prints and calls `exit(-1)`: a device MLX cannot use (the GPU of
/// a build without a GPU backend) would end the process without a `fatal` line. This one records
/// the message instead, so the failing call returns its error status. mlx-rs installs its own
/// handler on its first fallible call, after the device is chosen.
fn record_mlx_errors() {
    // SAFETY: the handler is a plain function; no data pointer, no destructor.
    unsafe { mlx_sys_burn::mlx_set_error_handler(Some(record_error), std::ptr::null_mut(), None) };
}

/// Makes `gpu` (else the CPU) MLX's default device; Err carries MLX's own message.
fn set_default_device(gpu: bool) -> Result<(), String> {
    let kind = if gpu { mlx_sys_burn::mlx_device_type__MLX_GPU } else { mlx_sys_burn::mlx_device_type__MLX_CPU };
    // SAFETY: a device value created, used and freed here.
    let status = unsafe {
        let device = mlx_sys_burn::mlx_device_new_type(kind, 0);
        let status = mlx_sys_burn::mlx_set_default_device(device);
        mlx_sys_burn::mlx_device_free(device);
        status
    };
    if status == 0 {
        return Ok(());
    }
    let message = LAST_ERROR.lock().unwrap_or_else(|e| e.into_inner()).take();
    Err(message.unwrap_or_else(|| format!("mlx_set_default_device failed with status {status}")))
}

/// The name of MLX's GPU backend on this OS: Metal on macOS, CUDA (MLX's other GPU backend) elsewhere.
pub const GPU_BACKEND: &str = if cfg!(target_os = "macos") { "metal" } else { "cuda" };

/// The device for `--device auto|gpu|cpu`: `auto` is the GPU where this MLX build has one, else
/// the CPU (with a note saying why). Err: the requested device is unusable, with MLX's reason.
pub fn choose_device(requested: &str) -> Result<(burn_mlx::MlxDevice, Option<String>), String> {
    record_mlx_errors();
    match requested {
        "cpu" => set_default_device(false).map(|()| (burn_mlx::MlxDevice::Cpu, None)),
        "gpu" => set_default_device(true)
            .map(|()| (burn_mlx::MlxDevice::Gpu, None))
            .map_err(|e| format!("--device gpu: MLX cannot use a GPU here: {e}")),
        _ => match set_default_device(true) {
            Ok(()) => Ok((burn_mlx::MlxDevice::Gpu, None)),
            Err(gpu_error) => {
                set_default_device(false).map_err(|e| format!("--device auto: neither the GPU ({gpu_error}) nor the CPU ({e}) is usable"))?;
                Ok((burn_mlx::MlxDevice::Cpu, Some(format!("--device auto chose the CPU: MLX has no GPU here ({gpu_error})"))))
            }
        },
    }
}

/// The version of the MLX library linked (`mlx::core::version()`, e.g. "0.26.5").
pub fn version() -> Option<String> {
    // SAFETY: an mlx_string created, read and freed here; its data is NUL-terminated.
    unsafe {
        let mut text = mlx_sys_burn::mlx_string_new();
        let ok = mlx_sys_burn::mlx_version(&mut text) == 0;
        let version = ok.then(|| CStr::from_ptr(mlx_sys_burn::mlx_string_data(text)).to_string_lossy().into_owned());
        mlx_sys_burn::mlx_string_free(text);
        version
    }
}

/// Where the linked MLX came from, as build.rs was told (`QWEN3_BENCH_SYSTEM_MLX_ORIGIN`): a
/// prebuilt library such as PyPI's mlx-cpu wheel, else MLX built from source by mlx-sys-burn.
pub const ORIGIN: &str = match option_env!("QWEN3_MLX_ORIGIN") {
    Some(origin) => origin,
    None => "built by mlx-sys-burn 0.2.2",
};

/// MLX's peak allocation so far, in bytes.
pub fn peak_memory_bytes() -> Option<u64> {
    let mut bytes: usize = 0;
    // SAFETY: mlx_get_peak_memory writes one size_t.
    let status = unsafe { mlx_sys_burn::mlx_get_peak_memory(&mut bytes) };
    (status == 0).then_some(bytes as u64)
}
