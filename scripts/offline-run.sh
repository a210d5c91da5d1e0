#!/usr/bin/env bash
# Runs the benchmark on an offline Linux GPU host from what scripts/offline-pack.sh left in
# .offline/, and leaves one archive of the results folder: results-<host>-<timestamp>.tar.gz in
# ${ARCHIVE_DIR:-.}. Python with torch and transformers must be on the host (the torch runners use
# it); everything else comes from .offline/. Extra arguments go to `vitest bench`.
#
# BENCH_LANES="fw,fw;fw,fw" (a host with several GPUs) is the harness's own option
# (bench/harness/lanes.ts): lane i runs on GPU i, all lanes at once, one report over them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/offline-env.sh

# CubeCL (Burn's GPU backends) caches compiled kernels and autotune results in ~/.cache/cubecl; a
# fresh host spends minutes filling it (each new prompt length autotunes again). A cache archived
# by an earlier run on the same card and driver (.offline/cubecl-cache.tar.gz) is brought back, and
# this run's cache is archived beside the results for the next one.
cubecl_parent="${XDG_CACHE_HOME:-$HOME/.cache}"
if [[ -f "$off/cubecl-cache.tar.gz" && ! -d "$cubecl_parent/cubecl" ]]; then
  mkdir -p "$cubecl_parent" && tar -xzf "$off/cubecl-cache.tar.gz" -C "$cubecl_parent"
fi

export BENCH_RESULTS_DIR="${BENCH_RESULTS_DIR:-$PWD/results}"
mkdir -p "$BENCH_RESULTS_DIR"
node bench/cli/main.ts doctor
status=0
# BENCH_WALL_LIMIT (seconds) stops a run that would outlast a lease; what was measured stays.
newest() { ls "$1" 2>/dev/null | grep -E '^[0-9]{4}-' | sort | tail -1 || true; }
before=$(newest "$BENCH_RESULTS_DIR")
timeout "${BENCH_WALL_LIMIT:-0}" node node_modules/vitest/vitest.mjs bench --run "$@" || status=$?
run=$(newest "$BENCH_RESULTS_DIR")
[[ "$run" == "$before" ]] && run=""
# A run stopped by the wall limit never reached its reporter: build the report from what it measured.
[[ -n "$run" && ! -f "$BENCH_RESULTS_DIR/$run/report.md" ]] && { node bench/cli/main.ts report "$BENCH_RESULTS_DIR/$run" $(ls -d "$BENCH_RESULTS_DIR/$run"/gpu[0-9]* 2>/dev/null) || true; }
if [[ -n "$run" ]]; then
  archive="${ARCHIVE_DIR:-.}/results-$(hostname)-$run.tar.gz"
  tar -czf "$archive" -C "$BENCH_RESULTS_DIR" "$run"
  echo "results: $BENCH_RESULTS_DIR/$run -> $archive"
fi
[[ -d "$cubecl_parent/cubecl" ]] && tar -czf "${ARCHIVE_DIR:-.}/cubecl-cache.tar.gz" -C "$cubecl_parent" cubecl
exit "$status"
