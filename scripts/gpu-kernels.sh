#!/usr/bin/env bash
# One GPU-host call for the Burn runner's custom kernels (runners/burn/README.md, "Custom kernels"),
# with what .offline/ holds (the runner built here with --features cuda,wgpu, xz'd; Vulkan debs):
#   1. the card's copy bandwidth and cuBLAS's batch-1 products (scripts/gpu-kernels.py gemv),
#   2. the runner's kernels against Burn's matmul on the same shapes (--bench-kernels, CUDA),
#   3. decode tok/s of burn-cuda with and without the kernels (scripts/gpu-probe.py,
#      scripts/gpu-probe-kernels.txt) on a 0.6B-shaped model made there (gpu-kernels.py synth),
#   4. while time is left: the kernel benchmark and the runner again on Vulkan (wgpu).
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
model=/tmp/qwen3-0.6b-synth
timeout 90 python3 scripts/gpu-kernels.py synth "$model"; echo "synth rc=$? at ${SECONDS}s"
timeout $(left 60) python3 scripts/gpu-probe.py --model "$model" --variants scripts/gpu-probe-kernels.txt \
  --out "$out/probe" --tokens 128 --requests 3 --ready-timeout 300 | tee "$out/probe.txt"; echo "probe rc=$? at ${SECONDS}s"
if (( budget_s - SECONDS > 60 )); then
  timeout $(left 10) "$runner" --bench-kernels --backend wgpu --dtype f16 > "$out/burn-wgpu-kernels.md" 2> "$out/burn-wgpu-kernels.log"
  echo "bench wgpu rc=$? at ${SECONDS}s"
fi
echo "== copy bandwidth and cuBLAS (torch.matmul)"; cat "$out/torch-gemv.md"
for f in "$out"/burn-*-kernels.md; do echo "== $f"; cat "$f"; tail -3 "${f%.md}.log"; done
echo "== probe"; tail -12 "$out/probe.txt"
