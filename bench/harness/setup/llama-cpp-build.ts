import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RUNNERS_DIR } from "../paths.ts";
import { platformFacts } from "../host/platform.ts";
import type { LlamaCppSettings } from "../settings.ts";
import { LlamaCppBackend } from "../schema/llama-cpp-backend.ts";
import { runLogged, tryOutput } from "../host/command.ts";
import { benchCacheDir } from "../settings.ts";
import { sha256OfFile } from "../model/hub-digest.ts";
import { buildKey } from "./build-key.ts";

/**
 * llama.cpp from the registries only: PyPI's llama-cpp-python sdist vendors the whole llama.cpp tree
 * (vendor/llama.cpp: the library, ggml's CPU/CUDA/Metal/Vulkan backends, tools/llama-bench,
 * tools/quantize, convert_hf_to_gguf.py and gguf-py). `pip download` fetches the sdist into the
 * cache, the tree is unpacked beside it, and runners/llama-cpp/build.sh builds the runner,
 * llama-bench and llama-quantize from it in one CMake build (runners/llama-cpp/README.md).
 */
export const LLAMA_CPP_PYTHON_VERSION = "0.3.36";
/** The llama.cpp commit that sdist vendors (its CHANGELOG: "update llama.cpp to ggml-org/llama.cpp@0c1e57098"). */
export const LLAMA_CPP_COMMIT = "0c1e57098";
/** What the tree is, as ready.framework_version and the build record it. */
export const LLAMA_CPP_SOURCE_VERSION = `llama.cpp ${LLAMA_CPP_COMMIT} (llama-cpp-python ${LLAMA_CPP_PYTHON_VERSION} sdist)`;
/** File the unpacked tree carries with that line (build.sh reads it; offline-pack.sh packs it). */
export const SOURCE_VERSION_FILE = ".qwen3-bench-source";

/** The three programs one build makes. */
export const RUNNER_PROGRAM = "qwen3-bench-llama-cpp";
export const LLAMA_BENCH_PROGRAM = "llama-bench";
export const LLAMA_QUANTIZE_PROGRAM = "llama-quantize";

/** File build.sh writes into DIR/bin: the build's features, one a line, the backend first. */
export const BUILD_FEATURES_FILE = "build-features";

export const llamaCppCacheDir = (): string => join(benchCacheDir(), "llama-cpp");

/** The tree as unpacked from the sdist. */
export const sdistTree = (): string => join(llamaCppCacheDir(), `llama-cpp-python-${LLAMA_CPP_PYTHON_VERSION}`, "llama.cpp");

/** Where this machine's build for one backend lives: <cache>/build-<backend>/{build,bin}. */
export const buildDir = (backend: LlamaCppBackend): string => join(llamaCppCacheDir(), `build-${backend}`);

/** A setup step whose failure the probe reports: one backend's build, or the converter's venv. */
export type SetupStep = LlamaCppBackend | "converter";

/** The last failed run of a setup step (its message), kept for the probe's reason; null after a success. */
const setupErrorFile = (step: SetupStep): string => join(llamaCppCacheDir(), `setup-error-${step}.txt`);
export const lastSetupError = (step: SetupStep): string | null => (existsSync(setupErrorFile(step)) ? readFileSync(setupErrorFile(step), "utf8").trim() : null);

/** Runs a setup step, recording its failure for the probe (and clearing an old one on success). */
export async function recordingSetupError<T>(step: SetupStep, run: () => Promise<T>): Promise<T> {
  try {
    const result = await run();
    rmSync(setupErrorFile(step), { force: true });
    return result;
  } catch (e) {
    mkdirSync(llamaCppCacheDir(), { recursive: true });
    writeFileSync(setupErrorFile(step), `${(e as Error).message.split("\n").slice(-6).join("\n")}\n`);
    throw e;
  }
}

/** The backend a build folder was made for: the first line of its build-features file (build.sh), or null. */
export function binDirBackend(binDir: string): LlamaCppBackend | null {
  const file = join(binDir, BUILD_FEATURES_FILE);
  if (!existsSync(file)) return null;
  const parsed = LlamaCppBackend.safeParse(readFileSync(file, "utf8").split("\n")[0].trim());
  return parsed.success ? parsed.data : null;
}

/**
 * The default build's backend (a label without `backend=`): BENCH_LLAMA_CPP_BACKEND, else Metal on
 * macOS (llama.cpp's default there), CUDA with an NVIDIA GPU and either nvcc or a prebuilt CUDA
 * folder, else the CPU. Never Vulkan: a Vulkan label says so (`backend=vulkan`), so adding a
 * prebuilt Vulkan folder does not change what a plain label measures.
 */
export async function llamaCppBackend(settings: LlamaCppSettings): Promise<LlamaCppBackend> {
  if (settings.backend) return settings.backend;
  const p = await platformFacts();
  if (p.os === "darwin") return "metal";
  if (p.nvidiaGpu && (prebuiltBinDir(settings, "cuda") || (await tryOutput("nvcc", ["--version"])) !== null)) return "cuda";
  return "cpu";
}

/** The BENCH_LLAMA_CPP_BIN folder whose build-features names the backend, or null. */
export const prebuiltBinDir = (settings: LlamaCppSettings, backend: LlamaCppBackend): string | null =>
  settings.prebuiltBins.find((dir) => binDirBackend(dir) === backend) ?? null;

/**
 * The one place that decides where a backend's programs live: the BENCH_LLAMA_CPP_BIN folder of
 * that backend, else this machine's build of it, <cache>/build-<backend>/bin (which setup makes; it
 * may not be built yet).
 */
export const llamaCppBinDir = (settings: LlamaCppSettings, backend: LlamaCppBackend): string =>
  prebuiltBinDir(settings, backend) ?? join(buildDir(backend), "bin");

/** What BENCH_LLAMA_CPP_BIN holds, for a reason: each folder and the backend its build-features names. */
export const describePrebuiltBins = (settings: LlamaCppSettings): string =>
  settings.prebuiltBins.map((dir) => `${dir} (${binDirBackend(dir) ?? `no ${BUILD_FEATURES_FILE} naming a backend`})`).join(", ");

/** What a backend's build needs beyond CMake and a C++ compiler: the tool to look for, and how to get it. */
const BACKEND_TOOLS: Partial<Record<LlamaCppBackend, [string, string]>> = {
  cuda: ["nvcc", "the CUDA toolkit's nvcc not found (install the CUDA toolkit, or put its bin/ on PATH)"],
  vulkan: ["glslc", "glslc not found: the Vulkan build needs glslc, the Vulkan headers and loader, and SPIR-V headers (Debian/Ubuntu: apt-get install glslc libvulkan-dev spirv-headers)"],
};

/**
 * Why the system's Vulkan headers cannot build this tree, or null: ggml-vulkan.cpp uses
 * VK_EXT_layer_settings, which Debian 12's headers (1.3.239) lack; the build would fail after
 * minutes of shader compilation (runners/llama-cpp/README.md, "Vulkan"). Headers elsewhere are not judged.
 */
export function oldVulkanHeaders(header = "/usr/include/vulkan/vulkan_core.h"): string | null {
  if (!existsSync(header)) return null;
  const text = readFileSync(header, "utf8");
  if (text.includes("#define VK_EXT_layer_settings 1")) return null;
  const version = /#define VK_HEADER_VERSION (\d+)/.exec(text)?.[1] ?? "?";
  return `the Vulkan headers ${header} (VK_HEADER_VERSION ${version}) lack VK_EXT_layer_settings, which this llama.cpp's Vulkan backend needs: build by hand with runners/llama-cpp/vulkan-toolchain.sh and build.sh (runners/llama-cpp/README.md, "Vulkan"), then add its DIR/bin to BENCH_LLAMA_CPP_BIN`;
}

/** Why llama.cpp cannot be built here for a backend (a missing tool, headers too old), or null. */
export async function missingBuildTools(backend: LlamaCppBackend): Promise<string | null> {
  if ((await tryOutput("cmake", ["--version"])) === null) return "cmake not found: install CMake >= 3.18 to build llama.cpp";
  const compiler = process.platform === "darwin" ? "clang++" : "c++";
  if ((await tryOutput(compiler, ["--version"])) === null) return `${compiler} not found: install a C++17 compiler (g++ or clang++) to build llama.cpp`;
  const tool = BACKEND_TOOLS[backend];
  if (tool && (await tryOutput(tool[0], ["--version"])) === null) return tool[1];
  return backend === "vulkan" ? oldVulkanHeaders() : null;
}

/** Downloads the sdist with pip (no binary, no dependencies) and unpacks its vendor/llama.cpp; once. */
async function ensureSdistTree(): Promise<string> {
  const tree = sdistTree();
  if (existsSync(join(tree, SOURCE_VERSION_FILE))) return tree;
  const cache = llamaCppCacheDir();
  const sdistDir = join(cache, "sdist");
  mkdirSync(sdistDir, { recursive: true });
  const archive = join(sdistDir, `llama_cpp_python-${LLAMA_CPP_PYTHON_VERSION}.tar.gz`);
  if (!existsSync(archive)) {
    await runLogged("setup llama-cpp (pip download)", "python3", [
      "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary=:all:", `llama-cpp-python==${LLAMA_CPP_PYTHON_VERSION}`, "-d", sdistDir,
    ]);
  }
  const staging = join(cache, "unpacking");
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const inner = `llama_cpp_python-${LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp`;
  await runLogged("setup llama-cpp (unpack)", "tar", ["-xzf", archive, "-C", staging, inner]);
  // The sdist's tree carries a git submodule pointer (.git) to a folder the sdist lacks: without it,
  // CMake's build-info takes the commit given, not whatever repository encloses the cache.
  rmSync(join(staging, inner, ".git"), { force: true });
  writeFileSync(join(staging, inner, SOURCE_VERSION_FILE), `${LLAMA_CPP_SOURCE_VERSION}\n`);
  rmSync(join(tree, ".."), { recursive: true, force: true });
  mkdirSync(join(tree, ".."), { recursive: true });
  renameSync(join(staging, inner), tree);
  rmSync(staging, { recursive: true, force: true });
  return tree;
}

/** The unpacked copy of a tree packed by scripts/offline-pack.sh, by the archive's hash. */
function packedTree(archive: string): string {
  const key = sha256OfFile(archive).slice(0, 12);
  return join(llamaCppCacheDir(), `packed-${key}`, "llama.cpp");
}

/** Where the llama.cpp tree is (or will be, after setup): BENCH_LLAMA_CPP_SOURCE (a tree, or a packed .tar.xz unpacked into the cache), else the sdist's. */
export function llamaCppTree(settings: LlamaCppSettings): string {
  if (!settings.source) return sdistTree();
  return statSync(settings.source).isDirectory() ? settings.source : packedTree(settings.source);
}

/** The llama.cpp tree to build and convert with, fetched or unpacked once. */
export async function ensureLlamaCppSource(settings: LlamaCppSettings): Promise<string> {
  if (!settings.source) return ensureSdistTree();
  const tree = llamaCppTree(settings);
  if (existsSync(join(tree, "include", "llama.h"))) return tree;
  mkdirSync(tree, { recursive: true });
  await runLogged("setup llama-cpp (unpack)", "tar", ["-xJf", settings.source, "-C", tree, "--strip-components=1"]);
  return tree;
}

/** sha256 of the runner's sources and build script, the tree's version line and the backend's arguments. */
export function llamaCppBuildKey(runnerDir: string, sourceVersion: string, args: string[]): string {
  return buildKey(runnerDir, ["CMakeLists.txt", "build.sh", "src"], { sourceVersion, args });
}

const building = new Map<LlamaCppBackend, Promise<void>>();

/**
 * Builds the runner, llama-bench and llama-quantize for one backend (build.sh) into
 * <cache>/build-<backend>, once per process and backend; skipped when a BENCH_LLAMA_CPP_BIN folder
 * holds that backend or the build's stamp holds the current key (runner sources, tree, backend, CUDA arch).
 */
export function buildLlamaCpp(settings: LlamaCppSettings, backend: LlamaCppBackend): Promise<void> {
  if (prebuiltBinDir(settings, backend)) return Promise.resolve();
  const started = building.get(backend);
  if (started) return started;
  const build = (async () => {
    const missing = await missingBuildTools(backend);
    if (missing) throw new Error(missing);
    const tree = await ensureLlamaCppSource(settings);
    const args = ["--backend", backend, ...(backend === "cuda" && settings.cudaArch ? ["--cuda-arch", settings.cudaArch] : [])];
    const runnerDir = join(RUNNERS_DIR, "llama-cpp");
    const version = existsSync(join(tree, SOURCE_VERSION_FILE)) ? readFileSync(join(tree, SOURCE_VERSION_FILE), "utf8").trim() : tree;
    const key = llamaCppBuildKey(runnerDir, version, args);
    const out = buildDir(backend);
    const stamp = join(out, "bin", ".qwen3-bench-build-key");
    if (existsSync(stamp) && readFileSync(stamp, "utf8").trim() === key && existsSync(join(out, "bin", RUNNER_PROGRAM))) return;
    await runLogged(`setup llama-cpp (${backend})`, join(runnerDir, "build.sh"), ["--source", tree, "--out", out, ...args]);
    writeFileSync(stamp, `${key}\n`);
  })();
  building.set(backend, build);
  return build;
}
