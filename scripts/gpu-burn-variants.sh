#!/usr/bin/env bash
# One GPU-host call comparing the Burn runner's kernel sets (runners/burn/README.md, "Custom
# kernels"), with the runner binary and Node (scripts/offline-env.sh unpacks it): usage
#   scripts/gpu-burn-variants.sh BINARY MODEL OUT [VARIANTS]
# VARIANTS: harness labels of burn-cuda, the first the baseline (default: gemv+norm, then custom).
#   1. each variant's --self-bench at PROMPT_LENGTHS, its greedy tokens checked against the first
#      variant's by the harness's rule (`qwen3-bench fidelity --run`, BENCH_BURN_BIN=BINARY);
#   2. a kernel census of each variant without the decode graph (CubeCL's profiling logger,
#      scripts/cubecl-kernel-census.py: launches per decode step by kernel) at 28 prompt tokens,
#      and of the last variant at each further length of CENSUS_PROMPTS ('28 529': which kernels
#      grow with the position);
#   3. Nsight Compute on the runner's own kernels in decode steps of the last variant (GPU time
#      per launch, DRAM bytes) at each of NCU_PROMPTS (529), without the decode graph unless
#      NCU_GRAPH=on, when ncu is there.
# Prints the tables last. Times are the host's; compare variants only within one call.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$1 model=$2 out=$3
variants=${4:-'burn-cuda[kernels=gemv+norm],burn-cuda[kernels=custom]'}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$out/nvidia-smi.csv" 2>&1

# Its own budget (FIDELITY_BUDGET_S) ends the part with the tables of what ran: a first process
# autotunes Burn's prefill at each new prompt length (about a minute at 529 tokens on the H200).
budget=${FIDELITY_BUDGET_S:-300}
[[ -f scripts/offline-env.sh && -d .offline ]] && source scripts/offline-env.sh
# As offline-run.sh does: an archived CubeCL cache saves Burn minutes of autotuning.
cubecl_parent="${XDG_CACHE_HOME:-$HOME/.cache}"
[[ -f .offline/cubecl-cache.tar.gz && ! -d "$cubecl_parent/cubecl" ]] && mkdir -p "$cubecl_parent" && tar -xzf .offline/cubecl-cache.tar.gz -C "$cubecl_parent"
BENCH_BURN_BIN="$bin" timeout $((budget + 30)) node bench/cli/main.ts fidelity --run --frameworks "$variants" --model "$model" --dtype f16 \
  --prompt-lengths "${PROMPT_LENGTHS:-28,99}" --new-tokens 128 --warmup 1 --repeats 3 \
  --budget-s "$budget" --tool-budget-s "$budget" --tools-only --out "$out/fidelity" > "$out/fidelity.txt" 2>&1
echo "fidelity rc=$? at ${SECONDS}s"

# `cuda[kernels=gemv+norm]` -> `gemv+norm`
kernel_sets=$(python3 -c 'import re,sys; print(" ".join(re.findall(r"kernels=([^,\]]+)", sys.argv[1])))' "$variants")
# File names without '+' (`gemv+norm` -> `gemv_norm`).
stem() { echo "${1//+/_}"; }
# CENSUS_PROMPTS: prompt lengths to take the census at (28); the last kernel set only past the first.
census_prompts=${CENSUS_PROMPTS:-28}
censuses=()
for p in $census_prompts; do
  for k in $kernel_sets; do
    [[ "$p" != "${census_prompts%% *}" && "$k" != "${kernel_sets##* }" ]] && continue
    name=census-$(stem "$k")-p$p
    log=/tmp/$name.log
    CUBECL_DEBUG_LOG=$log CUBECL_DEBUG_OPTION=profile timeout 150 "$bin" --model "$model" --dtype f16 --backend cuda \
      --kernels "$k" --decode-graph off --self-bench "$p",16,2 > /dev/null 2> "$out/$name.stderr"
    python3 scripts/cubecl-kernel-census.py "$log" --steps 45 > "$out/$name.md" 2>&1
    echo "census $k at $p prompt tokens rc=$? at ${SECONDS}s"
    censuses+=("$name")
    rm -f "$log"
  done
done

last=${kernel_sets##* }
# NCU_PROMPTS: prompt lengths to profile at (the attention kernel's time grows with the position);
# NCU_GRAPH=on profiles the kernels as nodes of the replayed decode graph (ncu's default
# --graph-profiling node) instead of launched one by one.
ncu_csvs=()
if command -v ncu > /dev/null; then
  for p in ${NCU_PROMPTS:-529}; do
    ncu_csv="$out/ncu-$(stem "$last")-p$p-graph-${NCU_GRAPH:-off}.csv"
    # Skip the start-up's launches (warm-up, decode check): 28 layers' worth of each kernel a step.
    timeout 150 ncu --clock-control none -k 'regex:attention|gemv|rms_norm' --launch-skip 1500 --launch-count 290 \
      --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --print-units base \
      "$bin" --model "$model" --dtype f16 --backend cuda --kernels "$last" --decode-graph "${NCU_GRAPH:-off}" \
      --self-bench "$p",128,1 > "$ncu_csv" 2> "${ncu_csv%.csv}.stderr"
    echo "ncu at $p prompt tokens rc=$? at ${SECONDS}s"
    ncu_csvs+=("$ncu_csv")
  done
fi

echo "== self-bench and tokens"; tail -40 "$out/fidelity.txt"
for name in "${censuses[@]}"; do echo "== $name"; head -30 "$out/$name.md"; done
for ncu_csv in "${ncu_csvs[@]}"; do
echo "== $(basename "$ncu_csv")"
python3 - "$ncu_csv" <<'EOF'
import csv, statistics, sys
from collections import defaultdict
# The runner's own JSON lines come first on stdout; the CSV starts at its header.
lines = open(sys.argv[1]).read().splitlines()
start = next((i for i, l in enumerate(lines) if l.startswith('"ID",')), None)
rows = list(csv.reader(lines[start:])) if start is not None else []
if not rows:
    sys.exit(print("ncu: no rows; stderr:", open(sys.argv[1].replace(".csv", ".stderr")).read()[-800:]))
head = rows[0]; name_i = head.index("Kernel Name"); metric_i = head.index("Metric Name"); value_i = head.index("Metric Value"); id_i = head.index("ID")
per = defaultdict(lambda: defaultdict(dict))
for r in rows[1:]:
    per[r[name_i][:60]][r[id_i]][r[metric_i]] = float(r[value_i].replace(",", ""))
print("| kernel | launches | median µs | median MB read | GB/s |\n| --- | ---: | ---: | ---: | ---: |")
for name, launches in per.items():
    t = statistics.median(m.get("gpu__time_duration.sum", 0) for m in launches.values())
    b = statistics.median(m.get("dram__bytes_read.sum", 0) for m in launches.values())
    # --print-units base: nanoseconds and bytes.
    print(f"| {name} | {len(launches)} | {t / 1000:.2f} | {b / 1e6:.3f} | {b / t if t else 0:.0f} |")
EOF
done
exit 0
