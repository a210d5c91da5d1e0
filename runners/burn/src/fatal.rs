//! Start-up failures as one `fatal` line (PROTOCOL.md) and a non-zero exit. Backends panic on
//! their device threads (no CUDA driver, no Vulkan adapter): the line carries the first panic's
//! message, the cause, rather than the follow-on error.

use serde_json::json;

static FIRST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Installs a panic hook that remembers the process's first panic message (and still prints it).
pub fn record_panics() {
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
pub fn or_fatal<T>(step: &str, f: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        let cause = FIRST_PANIC.lock().ok().and_then(|p| p.clone()).unwrap_or_default();
        let cause: String = cause.chars().take(600).collect();
        fatal("internal", &format!("{step} failed: {cause}"))
    })
}

/// Prints the `fatal` line (`kind`: `model` or `internal`) and exits with status 1.
pub fn fatal(kind: &str, message: &str) -> ! {
    println!("{}", json!({"op": "fatal", "error": {"kind": kind, "message": message}}));
    std::process::exit(1);
}
