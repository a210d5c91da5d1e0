#!/usr/bin/env bash
# Builds qwen3-bench's llama.cpp runner, llama-bench and llama-quantize from one llama.cpp tree in
# one CMake build, and copies the three programs into OUT/bin. The harness's setup calls it
# (bench/harness/setup/llama-cpp-build.ts); on a GPU host it is the one command to run by hand:
#
#   runners/llama-cpp/build.sh --source TREE|PACKED.tar.xz --out DIR [--backend cpu|cuda|vulkan|metal] [--cuda-arch 90] [--jobs N] [-- CMAKE_ARGS...]
#
# TREE is a llama.cpp source tree (the llama-cpp-python sdist's vendor/llama.cpp), PACKED a tree
# packed by scripts/offline-pack.sh. --backend defaults to cuda where nvcc and an NVIDIA GPU are
# found, metal on macOS (llama.cpp's default there), else cpu; --cuda-arch defaults to the GPU's
# compute capability (nvidia-smi), else CMake's "native". vulkan is never a default: it is asked for,
# and needs glslc, the Vulkan headers and loader, and SPIR-V headers (Debian/Ubuntu:
# apt-get install glslc libvulkan-dev spirv-headers; where those are too old, as on Debian 12,
# vulkan-toolchain.sh fetches newer ones and prints the CMake arguments to add after --).
# Prints the build's wall time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source="" out="" backend="" cuda_arch="" jobs=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --source) source="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --cuda-arch) cuda_arch="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "build.sh: unknown argument $1 (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done
[[ -n "$source" && -n "$out" ]] || { echo "build.sh: --source and --out are required" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# A packed tree is unpacked once into OUT/src.
if [[ -f "$source" ]]; then
  if [[ ! -f "$out/src/include/llama.h" ]]; then
    rm -rf "$out/src" && mkdir -p "$out/src"
    tar -xJf "$source" -C "$out/src" --strip-components=1
  fi
  source="$out/src"
fi
source="$(cd "$source" && pwd)"
[[ -f "$source/include/llama.h" ]] || { echo "build.sh: $source is not a llama.cpp tree (no include/llama.h)" >&2; exit 1; }
version="$(cat "$source/.qwen3-bench-source" 2>/dev/null || echo "llama.cpp (unknown commit)")"
commit="$(sed -n 's/^llama\.cpp \([0-9a-f]*\).*/\1/p' <<<"$version")"

if [[ -z "$backend" ]]; then
  if [[ "$(uname -s)" == Darwin ]]; then backend=metal
  elif command -v nvcc >/dev/null && nvidia-smi -L >/dev/null 2>&1; then backend=cuda
  else backend=cpu; fi
fi
args=(-DCMAKE_BUILD_TYPE=Release "-DLLAMA_CPP_SOURCE=$source" "-DLLAMA_CPP_VERSION=$version")
[[ -n "$commit" ]] && args+=("-DLLAMA_BUILD_COMMIT=$commit")
features=("$backend")
case "$backend" in
  cuda)
    if [[ -z "$cuda_arch" ]]; then
      cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
      cuda_arch="${cap:-native}"
    fi
    args+=(-DGGML_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$cuda_arch")
    features+=("sm_$cuda_arch") ;;
  vulkan)
    if [[ " ${extra[*]} " != *" -DVulkan_GLSLC_EXECUTABLE="* ]] && ! command -v glslc >/dev/null; then
      echo "build.sh: --backend vulkan needs glslc (Debian/Ubuntu: apt-get install glslc libvulkan-dev spirv-headers; too old there: runners/llama-cpp/vulkan-toolchain.sh)" >&2; exit 1
    fi
    args+=(-DGGML_VULKAN=ON -DGGML_CUDA=OFF -DGGML_METAL=OFF) ;;
  metal) args+=(-DGGML_METAL=ON) ;;
  cpu) args+=(-DGGML_METAL=OFF -DGGML_CUDA=OFF) ;;
  *) echo "build.sh: --backend must be cpu, cuda, vulkan or metal, got $backend" >&2; exit 2 ;;
esac
# GGML_NATIVE (llama.cpp's default): the CPU code is built for this machine's instruction set,
# unless the extra CMake arguments turn it off (a build meant for another host).
[[ " ${extra[*]} " == *" -DGGML_NATIVE=OFF "* ]] || features+=("native")
args+=("${extra[@]}")
for a in "${extra[@]}"; do features+=("$a"); done
if git -C "$here" rev-parse --short HEAD >/dev/null 2>&1; then
  args+=("-DQWEN3_BENCH_COMMIT=$(git -C "$here" rev-parse --short HEAD)")
  [[ -n "$(git -C "$here" status --porcelain -- . 2>/dev/null)" ]] && args+=(-DQWEN3_BENCH_DIRTY=ON) || args+=(-DQWEN3_BENCH_DIRTY=OFF)
fi
args+=("-DQWEN3_BENCH_BUILD_FEATURES=$(IFS=';'; echo "${features[*]}")")
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
[[ -n "$jobs" ]] || jobs="$(getconf _NPROCESSORS_ONLN 2>/dev/null || sysctl -n hw.ncpu)"

start=$(date +%s)
# A build folder configured from another checkout of this runner (a second clone sharing the
# cache) cannot be reconfigured from this one: CMake refuses a different source folder.
cache="$out/build/CMakeCache.txt"
if [[ -f "$cache" ]] && ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$here" "$cache"; then
  echo "== $out/build was configured from $(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$cache"): starting it afresh for $here"
  rm -rf "$out/build"
fi
echo "== cmake (${features[*]}): $source -> $out/build"
cmake -S "$here" -B "$out/build" "${generator[@]}" "${args[@]}"
cmake --build "$out/build" --target qwen3-bench-llama-cpp llama-bench llama-quantize -j "$jobs"
mkdir -p "$out/bin"
for program in qwen3-bench-llama-cpp llama-bench llama-quantize; do
  found="$(find "$out/build" -type f -name "$program" -perm -u+x | head -1)"
  [[ -n "$found" ]] || { echo "build.sh: $program was not built" >&2; exit 1; }
  cp "$found" "$out/bin/$program"
done
printf '%s\n' "$version" > "$out/bin/llama-cpp-version"
printf '%s\n' "${features[@]}" > "$out/bin/build-features"
echo "== built ${features[*]} in $(( $(date +%s) - start )) s: $out/bin (qwen3-bench-llama-cpp, llama-bench, llama-quantize)"
