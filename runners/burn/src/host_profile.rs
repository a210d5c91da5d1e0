//! `--host-profile FILE` (binaries built with the `pprof` feature): samples the process's host
//! stacks at 1 kHz from the second request on (the first is the harness's or probe's warm-up, where
//! kernels compile and autotune), and writes them to FILE at shutdown as collapsed stacks
//! (`thread;outermost;..;innermost count` per line, the input of flamegraph tools). A diagnostic
//! for "where does a decode step's host time go"; the timed path is the same with it off.

pub struct HostProfile {
    path: Option<std::path::PathBuf>,
    requests: usize,
    #[cfg(feature = "pprof")]
    guard: Option<pprof::ProfilerGuard<'static>>,
}

impl HostProfile {
    /// Samples into `path` where given (`--host-profile`, which the command line refuses in
    /// binaries without the `pprof` feature).
    pub fn new(path: Option<std::path::PathBuf>) -> Self {
        HostProfile {
            path,
            requests: 0,
            #[cfg(feature = "pprof")]
            guard: None,
        }
    }

    /// Called as each request starts: sampling begins with the second one.
    pub fn request_started(&mut self) {
        self.requests += 1;
        #[cfg(feature = "pprof")]
        if self.requests == 2 && self.path.is_some() {
            self.guard = pprof::ProfilerGuardBuilder::default()
                .frequency(1000)
                .blocklist(&["libc", "libgcc", "pthread", "vdso"])
                .build()
                .map_err(|e| eprintln!("qwen3-burn-runner: host profiler did not start: {e}"))
                .ok();
        }
    }

    /// Writes the collapsed stacks (at shutdown).
    pub fn finish(self) {
        #[cfg(feature = "pprof")]
        if let (Some(path), Some(guard)) = (self.path, self.guard) {
            let written = guard.report().build().map_err(|e| e.to_string()).and_then(|report| {
                let mut lines: Vec<String> = report
                    .data
                    .iter()
                    .map(|(frames, count)| {
                        let stack: Vec<String> = std::iter::once(frames.thread_name.clone())
                            .chain(frames.frames.iter().rev().flat_map(|inlined| inlined.iter().rev().map(|s| s.name())))
                            .collect();
                        format!("{} {count}", stack.join(";"))
                    })
                    .collect();
                lines.sort();
                std::fs::write(&path, lines.join("\n") + "\n").map_err(|e| e.to_string())
            });
            match written {
                Ok(()) => eprintln!("qwen3-burn-runner: host profile written to {}", path.display()),
                Err(e) => eprintln!("qwen3-burn-runner: host profile not written: {e}"),
            }
        }
        #[cfg(not(feature = "pprof"))]
        let _ = (self.path, self.requests);
    }
}
