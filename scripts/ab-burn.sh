#!/usr/bin/env bash
# A/B gate for the Burn runner, as a framework's CI runs it (.github/workflows/burn-ab.yml): builds
# runners/burn at two git revisions, runs both builds in one benchmark as two labels of one framework
# (burn-<backend>@base, burn-<backend>@head) with their requests interleaved, and exits 1 when head
# is slower than base beyond the noise band (`qwen3-bench ab`), or when the run itself failed (a
# crash, or head's tokens no longer agree with base's).
#
#   scripts/ab-burn.sh BASE_REF HEAD_REF
#
# AB_BACKEND    Burn backend of both labels (cpu; wgpu or cuda on a GPU machine)       default cpu
# AB_FEATURES   cargo features of both builds                                          default AB_BACKEND
# AB_NOISE      noise band of the gate, relative                                       default 0.02
# AB_OUT        results root: the run lands in AB_OUT/<timestamp>/ with ab.txt         default results/ab
# AB_TARGET_DIR cargo target folder of the two builds (kept apart from setup's build)  default ~/.cache/qwen3-bench/ab-target
# BENCH_*, MODEL_PATH pass through to the benchmark (BENCH_PROFILE defaults to quick; each timed
# request in a fresh runner process, BENCH_RUNS_PER_PROCESS=1, 20 of them per prompt,
# BENCH_TIMED_ITERATIONS=20: the settings fixtures/calibration/ calibrated the gate with).
#
# Each build is kept as ~/.cache/qwen3-bench/ab-bin/qwen3-burn-runner-<commit>-<features>, so a
# revision is built once. Both builds share the target folder: the second recompiles the runner
# crate only.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -ne 2 ]]; then
  sed -n '2,9p' "$0" >&2
  exit 2
fi
base_ref=$1
head_ref=$2
backend=${AB_BACKEND:-cpu}
features=${AB_FEATURES:-$backend}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/qwen3-bench
target=${AB_TARGET_DIR:-$cache/ab-target}
bins=$cache/ab-bin
out=${AB_OUT:-results/ab}
mkdir -p "$bins" "$out"
# The project's Node (the `node` devDependency, Node 24: the harness runs TypeScript directly).
node=node_modules/.bin/node
[[ -x $node ]] || node=node

# Builds runners/burn at a revision (in a temporary git worktree) and prints the binary's path.
build() {
  local sha bin tree
  sha=$(git rev-parse --verify "$1^{commit}")
  bin="$bins/qwen3-burn-runner-$sha-${features//,/+}"
  if [[ ! -x $bin ]]; then
    tree=$(mktemp -d)
    git worktree add --detach "$tree" "$sha" >&2
    echo "ab-burn: building $1 ($sha) with features $features" >&2
    if ! CARGO_TARGET_DIR=$target cargo build --release --locked --features "$features" --manifest-path "$tree/runners/burn/Cargo.toml" >&2; then
      git worktree remove --force "$tree" >&2
      echo "ab-burn: the build of $1 failed" >&2
      return 1
    fi
    cp "$target/release/qwen3-burn-runner" "$bin.tmp" && mv "$bin.tmp" "$bin"
    git worktree remove --force "$tree" >&2
  fi
  echo "$bin"
}

base_bin=$(build "$base_ref")
head_bin=$(build "$head_ref")
label=burn-$backend
newest() { ls "$out" | grep -E '^[0-9]{4}-' | sort | tail -1 || true; }
before=$(newest)

# BENCH_BURN_BIN: burn-<backend> counts as built (setup builds nothing from this checkout).
bench_status=0
BENCH_BIN_BASE=$base_bin BENCH_BIN_HEAD=$head_bin BENCH_BURN_BIN=$base_bin \
  BENCH_FRAMEWORKS="$label@base,$label@head" BENCH_REFERENCE="$label@base" BENCH_INTERLEAVE=on \
  BENCH_PROFILE=${BENCH_PROFILE:-quick} BENCH_RESULTS_DIR=$out \
  BENCH_RUNS_PER_PROCESS=${BENCH_RUNS_PER_PROCESS:-1} BENCH_TIMED_ITERATIONS=${BENCH_TIMED_ITERATIONS:-20} \
  "$node" node_modules/vitest/vitest.mjs bench --run || bench_status=$?

run=$(newest)
if [[ -z $run || $run == "$before" ]]; then
  echo "ab-burn: the benchmark wrote no results folder in $out" >&2
  exit 1
fi
gate_status=0
"$node" bench/cli/main.ts ab "$out/$run" --base "$label@base" --head "$label@head" --noise "${AB_NOISE:-0.02}" > "$out/$run/ab.txt" 2>&1 || gate_status=$?
cat "$out/$run/ab.txt"
echo "ab-burn: base $base_ref, head $head_ref; results and report in $out/$run (benchmark exit $bench_status, gate exit $gate_status)"
((gate_status)) && exit "$gate_status"
exit "$bench_status"
