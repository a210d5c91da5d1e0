//! This process's peak resident memory, for `generate` replies (`peak_rss_bytes`): Linux's
//! `/proc/self/status`, elsewhere (macOS) `getrusage`. Shared with runners/burn-mlx through
//! `protocol.rs`: keep it free of Burn and of edition-2024-only syntax.

/// Peak resident set size of this process so far, in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: getrusage only writes into the struct we pass.
        let mut usage: libc_rusage::rusage = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc_rusage::getrusage(0, &mut usage) } == 0;
        // ru_maxrss is bytes on macOS (kilobytes on the BSDs; this branch serves macOS).
        ok.then_some(usage.ru_maxrss as u64)
    }
}

#[cfg(not(target_os = "linux"))]
mod libc_rusage {
    #[repr(C)]
    pub struct timeval {
        pub tv_sec: i64,
        pub tv_usec: i64,
    }
    #[repr(C)]
    pub struct rusage {
        pub ru_utime: timeval,
        pub ru_stime: timeval,
        pub ru_maxrss: i64,
        pub rest: [i64; 13],
    }
    unsafe extern "C" {
        pub fn getrusage(who: i32, usage: *mut rusage) -> i32;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_rss_is_reported_and_plausible() {
        let bytes = super::peak_rss_bytes().expect("peak RSS on this platform");
        assert!(bytes > 1 << 20, "{bytes} bytes");
    }
}
