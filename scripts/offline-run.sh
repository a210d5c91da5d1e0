#!/usr/bin/env bash
# Runs the benchmark on an offline Linux GPU host from what scripts/offline-pack.sh left in
# .offline/, and leaves one archive of the results folder: results-<host>-<timestamp>.tar.gz in
# ${ARCHIVE_DIR:-.}. Python with torch and transformers must be on the host (the torch runners use
# it); everything else comes from .offline/. Extra arguments go to `vitest bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
off="$PWD/.offline"

mkdir -p "$off/bin"
[[ -x "$off/bin/node" ]] || { xz -dc "$off/node.xz" > "$off/bin/node"; chmod +x "$off/bin/node"; }
[[ -d node_modules/vitest ]] || tar -xJf "$off/node_modules.tar.xz"
if [[ -f "$off/qwen3-burn-runner.xz" && ! -x "$off/bin/qwen3-burn-runner" ]]; then
  xz -dc "$off/qwen3-burn-runner.xz" > "$off/bin/qwen3-burn-runner"; chmod +x "$off/bin/qwen3-burn-runner"
fi
export PATH="$off/bin:$PATH"
export BENCH_BURN_BIN="$off/bin/qwen3-burn-runner"

# Vulkan: the host has NVIDIA's driver (ICD) but no loader; unpack Debian's libvulkan1 beside us.
if ! /sbin/ldconfig -p | grep -q libvulkan.so.1 && compgen -G "$off/debs/libvulkan1_*.deb" >/dev/null; then
  mkdir -p "$off/vulkan" && dpkg -x "$off"/debs/libvulkan1_*.deb "$off/vulkan"
  export LD_LIBRARY_PATH="$off/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
  [[ -f "$icd" && -z "${VK_DRIVER_FILES:-}" ]] && export VK_DRIVER_FILES="$icd"
done
compgen -G "$off/wheels/*.whl" >/dev/null && export BENCH_WHEELS_DIR="$off/wheels"
[[ -f "$off/fonts/DejaVuSans.ttf" ]] && export BENCH_CHART_FONT="$off/fonts/DejaVuSans.ttf"

export BENCH_RESULTS_DIR="${BENCH_RESULTS_DIR:-$PWD/results}"
before=$(ls "$BENCH_RESULTS_DIR" 2>/dev/null || true)
node bench/cli/main.ts doctor
status=0
# BENCH_WALL_LIMIT (seconds) stops a run that would outlast a lease; what was measured stays.
timeout "${BENCH_WALL_LIMIT:-0}" node node_modules/vitest/vitest.mjs bench --run "$@" || status=$?
run=$(comm -13 <(echo "$before" | sort) <(ls "$BENCH_RESULTS_DIR" | sort) | tail -1)
if [[ -n "$run" ]]; then
  [[ -f "$BENCH_RESULTS_DIR/$run/report.md" ]] || node bench/cli/main.ts report "$BENCH_RESULTS_DIR/$run" || true
  archive="${ARCHIVE_DIR:-.}/results-$(hostname)-$run.tar.gz"
  tar -czf "$archive" -C "$BENCH_RESULTS_DIR" "$run"
  echo "results: $BENCH_RESULTS_DIR/$run -> $archive"
fi
exit "$status"
