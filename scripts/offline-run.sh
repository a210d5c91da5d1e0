#!/usr/bin/env bash
# Runs the benchmark on an offline Linux GPU host from what scripts/offline-pack.sh left in
# .offline/, and leaves one archive of the results folder: results-<host>-<timestamp>.tar.gz in
# ${ARCHIVE_DIR:-.}. Python with torch and transformers must be on the host (the torch runners use
# it); everything else comes from .offline/. Extra arguments go to `vitest bench`.
#
# BENCH_LANES="fw,fw;fw,fw" (a host with several GPUs): lane i runs its frameworks on GPU i
# (CUDA_VISIBLE_DEVICES=i, PCI bus order), all lanes at once, each a whole harness run of its own
# (warm-up, timing, agreement with the reference, which a lane must list to be checked against);
# then one report is built over every lane. A framework in two lanes appears as "fw (gpu0)" and
# "fw (gpu1)": listing the reference in each lane both checks tokens and shows whether the lanes'
# GPUs time alike. Vulkan (burn-wgpu) takes the first GPU whatever CUDA_VISIBLE_DEVICES says: keep
# it in lane 0; nvidia-smi's per-GPU memory, logged every 5 s to gpus.csv, shows where each ran.
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
vitest_bench=(timeout "${BENCH_WALL_LIMIT:-0}" node node_modules/vitest/vitest.mjs bench --run)
newest() { ls "$1" 2>/dev/null | grep -E '^[0-9]{4}-' | sort | tail -1 || true; }

if [[ -z "${BENCH_LANES:-}" ]]; then
  before=$(newest "$BENCH_RESULTS_DIR")
  "${vitest_bench[@]}" "$@" || status=$?
  run=$(newest "$BENCH_RESULTS_DIR")
  [[ "$run" == "$before" ]] && run=""
  [[ -n "$run" && ! -f "$BENCH_RESULTS_DIR/$run/report.md" ]] && { node bench/cli/main.ts report "$BENCH_RESULTS_DIR/$run" || true; }
else
  IFS=';' read -ra lanes <<< "$BENCH_LANES"
  run=$(date -u +%Y-%m-%dT%H-%M-%SZ)
  dir="$BENCH_RESULTS_DIR/$run"
  mkdir -p "$dir"
  # Setup writes shared folders (models, virtual environments): once, before the lanes start.
  BENCH_FRAMEWORKS=$(tr ',;' '\n\n' <<< "$BENCH_LANES" | awk 'NF && !seen[$0]++' | paste -sd,) node bench/cli/main.ts setup
  nvidia-smi --query-gpu=timestamp,index,pci.bus_id,utilization.gpu,memory.used,power.draw --format=csv -l 5 > "$dir/gpus.csv" 2>/dev/null &
  smi=$!
  # Each lane gets its own share of the host's cores, so that one lane's compiling (torch.compile,
  # NVRTC) cannot take the cores the other lane's host-bound runners are timed on.
  cores=$(nproc)
  share=$((cores / ${#lanes[@]}))
  pids=()
  for i in "${!lanes[@]}"; do
    pin=()
    command -v taskset >/dev/null && ((share >= 2)) && pin=(taskset -c "$((i * share))-$((i * share + share - 1))")
    CUDA_VISIBLE_DEVICES=$i CUDA_DEVICE_ORDER=PCI_BUS_ID BENCH_FRAMEWORKS="${lanes[$i]}" BENCH_RESULTS_DIR="$dir/.gpu$i" \
      "${pin[@]}" "${vitest_bench[@]}" "$@" > "$dir/gpu$i.log" 2>&1 &
    pids+=("$!")
    echo "lane gpu$i (${lanes[$i]}) on cores ${pin[2]:-all}: log $dir/gpu$i.log"
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
  kill "$smi" 2>/dev/null || true
  lane_dirs=()
  for i in "${!lanes[@]}"; do
    lane_run=$(newest "$dir/.gpu$i")
    [[ -n "$lane_run" ]] && mv "$dir/.gpu$i/$lane_run" "$dir/gpu$i" && rmdir "$dir/.gpu$i" && lane_dirs+=("$dir/gpu$i")
  done
  ((${#lane_dirs[@]})) && { node bench/cli/main.ts report "${lane_dirs[@]}" --out "$dir" || true; }
fi
if [[ -n "$run" ]]; then
  archive="${ARCHIVE_DIR:-.}/results-$(hostname)-$run.tar.gz"
  tar -czf "$archive" -C "$BENCH_RESULTS_DIR" "$run"
  echo "results: $BENCH_RESULTS_DIR/$run -> $archive"
fi
[[ -d "$cubecl_parent/cubecl" ]] && tar -czf "${ARCHIVE_DIR:-.}/cubecl-cache.tar.gz" -C "$cubecl_parent" cubecl
exit "$status"
