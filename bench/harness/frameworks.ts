import { binaryRunner } from "./frameworks-binary.ts";
import { burnRunner } from "./frameworks-burn.ts";
import { llamaCppRunner } from "./frameworks-llama-cpp.ts";
import { pythonRunner } from "./frameworks-python.ts";
import type { Framework } from "./framework.ts";
import { platformFacts } from "./host/platform.ts";
import { withMlxQuant } from "./mlx-quant.ts";
import { MLX_FLAGS, MLX_LM_FLAGS, TORCH_FAST_FLAGS } from "./runner-flags.ts";
import { BURN_MLX_LINUX_CPU, MLX_CPU_VERSION, buildBurnMlx, burnMlxBinary, burnMlxLinuxCpuRequested } from "./setup/burn-mlx-build.ts";
import { buildMlxSwift, mlxSwiftBinary } from "./setup/mlx-swift-build.ts";
import { canImport } from "./setup/python-env.ts";
import { benchCacheDir, hostSettings } from "./settings.ts";

export type { Availability, Framework } from "./framework.ts";


/** Why an Apple runner cannot run here, or null on macOS with Apple Silicon. */
async function notAppleSilicon(): Promise<string | null> {
  return (await platformFacts()).appleSilicon ? null : "needs macOS on Apple Silicon";
}

const mlxLm = withMlxQuant(pythonRunner({
  name: "mlx-lm",
  flags: MLX_LM_FLAGS,
  readyFramework: "mlx-lm",
  folder: "mlx-lm",
  description: "mlx-lm (Python): mlx-lm's own Qwen3 model and generate_step, on Metal, CUDA or CPU",
  modules: ["mlx_lm"],
  async extras() {
    const p = await platformFacts();
    if (p.appleSilicon) return [];
    if (p.os === "linux" && p.arch === "x64") {
      const backend = hostSettings().BENCH_MLX_BACKEND ?? (p.nvidiaGpu ? "cuda13" : "cpu");
      if (backend !== "cpu" && backend !== "cuda13") return { unavailable: `BENCH_MLX_BACKEND must be cpu or cuda13, got ${backend}` };
      return [backend];
    }
    return { unavailable: `mlx has no build for ${p.os}/${p.arch} (macOS on Apple Silicon, or Linux x86-64)` };
  },
}), benchCacheDir());

/** The torch runner's variants (runners/torch/runner.py --variant). */
const TORCH_VARIANTS = {
  eager: { name: "torch", description: "PyTorch reference (Python): Hugging Face transformers Qwen3ForCausalLM, eager, on CUDA, MPS or CPU" },
  compile: { name: "torch-compile", description: "PyTorch reference, compiled: transformers generate() with a static cache and torch.compile (CUDA graphs); CUDA only" },
  fast: {
    name: "torch-fast",
    description: "PyTorch at its fastest (Python): a hand-written Qwen3 (fused projections, static KV cache), decode step compiled with CUDA graphs on CUDA, eager on MPS or CPU",
  },
} as const;

/** The reference: transformers on PyTorch, as `torch` (eager) or `torch-compile` (CUDA graphs); and `torch-fast`, PyTorch without transformers. */
function torchRunner(variant: keyof typeof TORCH_VARIANTS): Framework {
  return pythonRunner({
    name: TORCH_VARIANTS[variant].name,
    readyFramework: TORCH_VARIANTS[variant].name,
    folder: "torch",
    description: TORCH_VARIANTS[variant].description,
    modules: ["torch", "transformers", "safetensors"],
    async extras() {
      if (variant === "compile" && !(await platformFacts()).nvidiaGpu) return { unavailable: "needs an NVIDIA GPU (torch.compile with CUDA graphs)" };
      return [];
    },
    // A Python that already has torch and transformers (the GPU host's) is used as it is.
    async fallbackPython() {
      const python = hostSettings().BENCH_TORCH_PYTHON ?? "python3";
      return (await canImport(python, ["torch", "transformers", "safetensors"])) ? python : null;
    },
    installWhen: () => hostSettings().BENCH_INSTALL_TORCH === "1",
    installHint: "torch is several GB: set BENCH_INSTALL_TORCH=1 and run `npx qwen3-bench setup`, or point BENCH_TORCH_PYTHON at a Python that has torch and transformers",
    args: ["--variant", variant],
    ...(variant === "fast" ? { flags: TORCH_FAST_FLAGS } : {}),
  });
}

const burnCuda = burnRunner({
  backend: "cuda",
  description: "Burn (Rust): Qwen3 on Burn's CUDA backend (cubecl), fusion and autotune on",
  unavailableHere: async () => ((await platformFacts()).nvidiaGpu ? null : "needs an NVIDIA GPU (nvidia-smi lists none)"),
});

const burnWgpu = burnRunner({
  backend: "wgpu",
  description: "Burn (Rust): Qwen3 on Burn's wgpu backend (Vulkan), fusion and autotune on",
  async unavailableHere() {
    const p = await platformFacts(hostSettings().LD_LIBRARY_PATH);
    if (!p.vulkanLoader) return "no Vulkan loader (libvulkan.so.1): install libvulkan1 and a Vulkan driver";
    // Without a GPU, Vulkan is Mesa's software rasterizer (lavapipe): minutes per case, nothing learnt.
    if (!p.gpuDeviceNode && hostSettings().BENCH_ALLOW_SOFTWARE_VULKAN !== "1") return "no GPU device node: Vulkan here would be software (lavapipe); BENCH_ALLOW_SOFTWARE_VULKAN=1 runs it anyway";
    return null;
  },
});

const burnCpu = burnRunner({ backend: "cpu", description: "Burn (Rust): Qwen3 on Burn's CPU backend (flex)", unavailableHere: async () => null });

/** burn-wgpu with the MSL compiler (the `metal` feature; on Apple Silicon the Burn build is cpu+metal, the one burn-cpu uses). */
const burnMetal = burnRunner({
  backend: "metal",
  description: "Burn (Rust): Qwen3 on Burn's wgpu backend compiling to Metal (MSL), fusion and autotune on",
  unavailableHere: notAppleSilicon,
});

const mlxSwift = binaryRunner({
  name: "mlx-swift",
  readyFramework: "mlx-swift",
  flags: MLX_FLAGS,
  description: "MLX Swift: Qwen3 written on mlx-swift 0.31.4 ops (MLXFast rmsNorm/RoPE/attention), pipelined greedy decode, on Metal (MLX's CPU backend on Linux, prebuilt: BENCH_MLX_SWIFT_BIN)",
  binary: mlxSwiftBinary,
  prebuilt: () => Boolean(hostSettings().BENCH_MLX_SWIFT_BIN),
  build: buildMlxSwift,
  notHere: notAppleSilicon,
  notBuiltHint: "run `npx qwen3-bench setup` (xcodebuild) or set BENCH_MLX_SWIFT_BIN",
  args: [],
});

const burnMlx: Framework = { ...binaryRunner({
  name: "burn-mlx",
  readyFramework: "burn-mlx",
  flags: MLX_FLAGS,
  description: `Burn 0.16 + burn-mlx 0.1.2 (Rust): Qwen3 on the MLX backend, on Metal (on Linux, BENCH_BURN_MLX=${BURN_MLX_LINUX_CPU}: MLX ${MLX_CPU_VERSION}'s CPU backend from the mlx-cpu wheel); f32 only`,
  binary: burnMlxBinary,
  prebuilt: () => Boolean(hostSettings().BENCH_BURN_MLX_BIN),
  build: buildBurnMlx,
  notHere: async () =>
    (await platformFacts()).appleSilicon || burnMlxLinuxCpuRequested() ? null : `needs macOS on Apple Silicon, or Linux with BENCH_BURN_MLX=${BURN_MLX_LINUX_CPU}`,
  notBuiltHint: "run `npx qwen3-bench setup` (cargo, cmake) or set BENCH_BURN_MLX_BIN",
  args: ["--backend", "mlx"],
}), dtypes: ["f32"], dtypeNote: "burn-mlx 0.1.2's float element is f32; its float_cast ignores f16 and bf16" };

/**
 * Every framework the suite knows, in the order cases run (the reference first). A new framework is
 * a runner folder plus one entry here, made with the builder for its kind of runner.
 */
export const FRAMEWORKS: Framework[] = [torchRunner("eager"), torchRunner("compile"), torchRunner("fast"), mlxLm, burnCuda, burnWgpu, burnCpu, mlxSwift, burnMetal, burnMlx, llamaCppRunner()];

export function frameworkByName(name: string): Framework {
  const found = FRAMEWORKS.find((f) => f.name === name);
  if (!found) throw new Error(`BENCH_FRAMEWORKS: unknown framework ${JSON.stringify(name)} (known: ${FRAMEWORKS.map((f) => f.name).join(", ")})`);
  return found;
}
