#!/usr/bin/env bash
# One GPU-host call for the Burn runner's custom kernels (runners/burn/README.md, "Custom kernels"),
# with what .offline/ holds (the runner built here with --features cuda,wgpu, xz'd; Vulkan debs):
#   1. the card's copy bandwidth and cuBLAS's batch-1 products (scripts/gpu-kernels.py gemv),
#   2. the runner's kernels against Burn's matmul on the same shapes (--bench-kernels, CUDA),
#   3. while time is left: the kernel benchmark again on Vulkan (wgpu).
# Decode tok/s with and without the kernels is a harness run, not this script's:
#   BENCH_FRAMEWORKS='burn-cuda,burn-cuda[kernels=custom]' BENCH_PROFILE=full scripts/offline-run.sh
# Writes to $1 (default results/gpu-kernels); prints the tables last.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/gpu-kernels}
mkdir -p "$out"
source scripts/offline-env.sh
runner=.offline/bin/qwen3-burn-runner
budget_s=${GPU_KERNELS_BUDGET_S:-540}
# Seconds left of the budget, at least $1 (a timeout must stay positive).
left() { local l=$((budget_s - SECONDS)); echo $(( l > $1 ? l : $1 )); }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu --format=csv 2>&1 | tee "$out/nvidia-smi.csv"
export PYTHONUNBUFFERED=1
timeout 90 python3 scripts/gpu-kernels.py gemv > "$out/torch-gemv.md" 2> "$out/torch-gemv.json"; echo "torch gemv rc=$?"
timeout 180 "$runner" --bench-kernels --backend cuda --dtype f16 > "$out/burn-cuda-kernels.md" 2> "$out/burn-cuda-kernels.log"; echo "bench cuda rc=$?"
if (( budget_s - SECONDS > 60 )); then
  timeout $(left 10) "$runner" --bench-kernels --backend wgpu --dtype f16 > "$out/burn-wgpu-kernels.md" 2> "$out/burn-wgpu-kernels.log"
  echo "bench wgpu rc=$? at ${SECONDS}s"
fi
echo "== copy bandwidth and cuBLAS (torch.matmul)"; cat "$out/torch-gemv.md"
for f in "$out"/burn-*-kernels.md; do echo "== $f"; cat "$f"; tail -3 "${f%.md}.log"; done
