#!/usr/bin/env bash
# Runs scripts/gpu-probe.py on an offline GPU host with what scripts/offline-pack.sh left in
# .offline/: makes the synthetic 0.6B model if missing, records the card's state, then times the
# variants listed in $1, writing to $2. Extra arguments go to gpu-probe.py.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/offline-env.sh
model=${MODEL_PATH:-models/qwen3-0.6b-synthetic}
[[ -f "$model/config.json" ]] || node bench/cli/main.ts synth --preset 0.6b --out "$model" >/dev/null
mkdir -p "$2"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu --format=csv 2>&1 | tee "$2/nvidia-smi.csv" || true
python3 scripts/gpu-probe.py --model "$model" --variants "$1" --out "$2" "${@:3}"
