# Sourced by scripts/offline-run.sh and scripts/gpu-kernels.sh on an offline Linux GPU host: unpacks
# what scripts/offline-pack.sh left in .offline/ (Node, npm packages, the Burn runner, Vulkan
# libraries, fonts, wheels) and exports the variables the harness reads. Idempotent.
off="$PWD/.offline"
mkdir -p "$off/bin"
if [[ -f "$off/node.xz" && ! -x "$off/bin/node" ]]; then xz -dc "$off/node.xz" > "$off/bin/node"; chmod +x "$off/bin/node"; fi
if [[ -f "$off/node_modules.tar.xz" && ! -d node_modules/vitest ]]; then tar -xJf "$off/node_modules.tar.xz"; fi
if [[ -f "$off/qwen3-burn-runner.xz" && ! -x "$off/bin/qwen3-burn-runner" ]]; then
  xz -dc "$off/qwen3-burn-runner.xz" > "$off/bin/qwen3-burn-runner"; chmod +x "$off/bin/qwen3-burn-runner"
fi
export PATH="$off/bin:$PATH"
[[ -x "$off/bin/qwen3-burn-runner" ]] && export BENCH_BURN_BIN="$off/bin/qwen3-burn-runner"

# Vulkan: the host has NVIDIA's driver (ICD) but no loader, and the ICD library needs GLVND's
# dispatch libraries: unpack Debian's libvulkan1 and GLVND packages beside us (never into /).
if ! /sbin/ldconfig -p | grep -q libvulkan.so.1 && compgen -G "$off/debs/*.deb" >/dev/null; then
  mkdir -p "$off/vulkan"
  for deb in "$off"/debs/*.deb; do dpkg -x "$deb" "$off/vulkan"; done
  export LD_LIBRARY_PATH="$off/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
  [[ -f "$icd" && -z "${VK_DRIVER_FILES:-}" ]] && export VK_DRIVER_FILES="$icd"
done

# A wheel too large for one upload travels as `split` parts (NAME.whl.part-aa, -ab, ...): join them,
# again whenever the parts add up to another size (a join made before the last part came is invalid).
for first in "$off"/wheels/*.whl.part-aa; do
  [[ -e "$first" ]] || continue
  whl="${first%.part-aa}"
  parts_size=$(cat "$whl".part-* | wc -c)
  [[ -f "$whl" && $(wc -c < "$whl") -eq $parts_size ]] || cat "$whl".part-* > "$whl"
done
# A wheel may also travel as its files in one xz'd tar, split (NAME.whl.tar.xz.part-aa, -ab, ...:
# scripts/offline-pack.sh --with-mlx; xz packs mlx's CUDA library 5 % smaller than the wheel's own
# zip deflate). The wheel is zipped again from exactly those files (its RECORD hashes files, not the
# archive) once every part is here: `xz -t` on the joined parts fails while one is missing.
for first in "$off"/wheels/*.whl.tar.xz.part-aa; do
  [[ -e "$first" ]] || continue
  whl="${first%.tar.xz.part-aa}"
  [[ -f "$whl" ]] && continue
  cat "${whl}".tar.xz.part-* > "$off/joined.tar.xz"
  if xz -t "$off/joined.tar.xz" 2>/dev/null; then
    rm -rf "$off/unzipped" && mkdir -p "$off/unzipped" && tar -xJf "$off/joined.tar.xz" -C "$off/unzipped"
    (cd "$off/unzipped" && python3 -c 'import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    for root, _, files in sorted(os.walk(".")):
        for f in sorted(files): z.write(os.path.join(root, f), os.path.relpath(os.path.join(root, f), "."))' "$whl.tmp") && mv "$whl.tmp" "$whl"
    rm -rf "$off/unzipped"
  fi
  rm -f "$off/joined.tar.xz"
done
# mlx's CUDA wheel links cuDNN, cuBLAS, NCCL... from NVIDIA's pip packages, which the host has
# beside torch: put their library folders on the loader path when mlx wheels came along.
if compgen -G "$off/wheels/*.whl" >/dev/null; then
  export BENCH_WHEELS_DIR="$off/wheels"
  nvidia_libs=$(python3 - <<'PY' 2>/dev/null || true
import pathlib, nvidia
roots = [pathlib.Path(p) for p in nvidia.__path__]
print(":".join(sorted({str(d) for r in roots for d in [*r.glob("*/lib"), *r.glob("*/*/lib")] if d.is_dir()})))
PY
)
  [[ -n "$nvidia_libs" ]] && export LD_LIBRARY_PATH="$nvidia_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# llama.cpp's trimmed tree (offline-pack.sh): the harness's setup builds the llama-cpp runner,
# llama-bench and llama-quantize from it, with CUDA for the GPU's arch; the converter runs on the
# host's python3 (torch, transformers) with the tree's gguf-py.
[[ -f "$off/llama.cpp.tar.xz" && -z "${BENCH_LLAMA_CPP_SOURCE:-}" ]] && export BENCH_LLAMA_CPP_SOURCE="$off/llama.cpp.tar.xz"
[[ -f "$off/fonts/DejaVuSans.ttf" ]] && export BENCH_CHART_FONT="$off/fonts/DejaVuSans.ttf"
true
