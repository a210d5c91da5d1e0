#!/usr/bin/env bash
# Fetches a newer Vulkan build toolchain for llama.cpp's Vulkan backend into OUT, from Debian 13
# (trixie) packages, for a build machine whose own packages are too old (Debian 12: Vulkan headers
# 1.3.239 lack VK_EXT_layer_settings, which ggml-vulkan.cpp uses unconditionally, and its glslc
# 2023.2 lacks the cooperative-matrix and integer-dot shader extensions). Build time only: the
# programs it helps build link the system's libvulkan.so.1 and nothing of OUT.
#
#   runners/llama-cpp/vulkan-toolchain.sh OUT
#   runners/llama-cpp/build.sh --backend vulkan ... -- $(cat OUT/cmake-args)
#
# apt-get (the Debian registry) downloads into OUT with a private source list and state, so the
# machine's own apt configuration and packages stay as they are. OUT/root holds the unpacked packages:
# Vulkan-Headers 1.4.309 (libvulkan-dev), SPIR-V headers, and glslc 2025.2 (shaderc, glslang 15.1)
# with the glibc and libstdc++ it needs; OUT/glslc runs that glslc through Debian 13's own loader.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 OUT" >&2; exit 2; }
command -v apt-get >/dev/null || { echo "vulkan-toolchain.sh: needs apt-get (a Debian or Ubuntu machine)" >&2; exit 1; }
mkdir -p "$1"
out="$(cd "$1" && pwd)"
suite=trixie
packages=(libvulkan-dev spirv-headers glslc libshaderc1 libc6 libstdc++6 libgcc-s1)

mkdir -p "$out/apt/lists/partial" "$out/apt/cache/archives/partial" "$out/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" > "$out/apt/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$out/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$out/apt/lists" -o "Dir::Cache=$out/apt/cache" -o APT::Architecture=amd64
  -o Acquire::Languages=none -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -qq
(cd "$out/debs" && apt-get "${apt_opts[@]}" download -qq "${packages[@]/%//$suite}")
rm -rf "$out/root"
for deb in "$out"/debs/*.deb; do dpkg-deb -x "$deb" "$out/root"; done

cat > "$out/glslc" <<'EOF'
#!/bin/sh
# Debian 13's glslc, run through Debian 13's own loader and libraries (it needs glibc 2.38, libstdc++ 13).
root="$(cd "$(dirname "$0")" && pwd)/root"
exec "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$root/usr/lib/x86_64-linux-gnu" "$root/usr/bin/glslc" "$@"
EOF
chmod +x "$out/glslc"
"$out/glslc" --version | head -3
printf '%s\n' "-DVulkan_GLSLC_EXECUTABLE=$out/glslc" "-DVulkan_INCLUDE_DIR=$out/root/usr/include" \
  "-DSPIRV-Headers_DIR=$out/root/usr/share/cmake/SPIRV-Headers" > "$out/cmake-args"
echo "vulkan-toolchain.sh: $out (Vulkan headers $(sed -n 's/^#define VK_HEADER_VERSION \([0-9]*\)$/\1/p' "$out/root/usr/include/vulkan/vulkan_core.h")); CMake arguments in $out/cmake-args"
