import { existsSync } from "node:fs";
import { join } from "node:path";
import { RUNNERS_DIR } from "./paths.ts";
import { platformFacts } from "./platform.ts";
import type { LaunchSpec } from "./runner-process.ts";
import { BURN_FLAGS, type RunnerFlag } from "./runner-flags.ts";
import type { Dtype } from "./schema/model-config.ts";
import { APPLE_FRAMEWORKS } from "./frameworks-apple.ts";
import { buildBurn, burnBinary, compiledBackends } from "./setup/burn-build.ts";
import { canImport, ensureVenv, venvPython } from "./setup/python-env.ts";

/** Whether a framework can run here, and why (or why not). */
export interface Availability {
  available: boolean;
  reason: string;
}

/**
 * One benchmarked framework: a runner folder that speaks runners/PROTOCOL.md, how to set it up,
 * and how to start it. To add a framework, write its runner and add one entry to FRAMEWORKS.
 */
export interface Framework {
  name: string;
  /** The `framework` value this runner's `ready` line carries (runners/PROTOCOL.md). */
  readyFramework: string;
  description: string;
  /** Is it usable now? No side effects. */
  probe(): Promise<Availability>;
  /** Installs or builds what this machine can run (idempotent); does nothing when it cannot. */
  setup(): Promise<void>;
  /** The command that starts the runner; call only after probe() said available. */
  launch(modelDir: string, dtype: Dtype): Promise<LaunchSpec>;
  /** Runner flags a label may set (`burn-cuda[decode-graph=off]`), by name; none when absent. */
  flags?: Record<string, RunnerFlag>;
}

const env = process.env;

/** A Python runner at runners/<folder>/runner.py, in its own uv venv. */
function pythonRunner(opts: {
  name: string;
  readyFramework: string;
  folder: string;
  description: string;
  modules: string[];
  /** pyproject extras for this platform, or a reason it cannot run here. */
  extras: () => Promise<string[] | { unavailable: string }>;
  /** An already-installed Python to use instead of the venv (e.g. the GPU host's system Python). */
  fallbackPython?: () => Promise<string | null>;
  /** Install only when this returns true (torch is several GB). */
  installWhen?: () => boolean;
  installHint?: string;
  args?: string[];
}): Framework {
  const dir = join(RUNNERS_DIR, opts.folder);
  const resolvePython = async (): Promise<string | null> => {
    if (await canImport(venvPython(dir), opts.modules)) return venvPython(dir);
    return (await opts.fallbackPython?.()) ?? null;
  };
  return {
    name: opts.name,
    readyFramework: opts.readyFramework,
    description: opts.description,
    async probe() {
      const extras = await opts.extras();
      if (!Array.isArray(extras)) return { available: false, reason: extras.unavailable };
      const python = await resolvePython();
      if (python) return { available: true, reason: `${python} imports ${opts.modules.join(", ")}` };
      return { available: false, reason: `not installed: ${opts.installHint ?? "run `npx qwen3-bench setup`"}` };
    },
    async setup() {
      const extras = await opts.extras();
      if (!Array.isArray(extras)) return;
      // An existing venv is always brought up to date (ensureVenv is a no-op when its stamp
      // matches the pyproject and extras); without one, a host Python that has the modules is used
      // as it is, and installs that need consent (torch) wait for it.
      if (!existsSync(venvPython(dir))) {
        if (await opts.fallbackPython?.()) return;
        if (opts.installWhen && !opts.installWhen()) return;
      }
      await ensureVenv(`setup ${opts.name}`, dir, extras, env.BENCH_WHEELS_DIR || undefined);
    },
    async launch(modelDir, dtype) {
      const python = await resolvePython();
      if (!python) throw new Error(`${opts.name}: no Python with ${opts.modules.join(", ")}`);
      return { framework: opts.name, command: python, args: [join(dir, "runner.py"), "--model", modelDir, "--dtype", dtype, ...(opts.args ?? [])] };
    },
  };
}

const mlxLm = pythonRunner({
  name: "mlx-lm",
  readyFramework: "mlx-lm",
  folder: "mlx-lm",
  description: "mlx-lm (Python): mlx-lm's own Qwen3 model and generate_step, on Metal, CUDA or CPU",
  modules: ["mlx_lm"],
  async extras() {
    const p = await platformFacts();
    if (p.appleSilicon) return [];
    if (p.os === "linux" && p.arch === "x64") {
      const backend = env.BENCH_MLX_BACKEND ?? (p.nvidiaGpu ? "cuda13" : "cpu");
      if (backend !== "cpu" && backend !== "cuda13") return { unavailable: `BENCH_MLX_BACKEND must be cpu or cuda13, got ${backend}` };
      return [backend];
    }
    return { unavailable: `mlx has no build for ${p.os}/${p.arch} (macOS on Apple Silicon, or Linux x86-64)` };
  },
});

/** The reference: transformers on PyTorch, as `torch` (eager) or `torch-compile` (CUDA graphs). */
function torchRunner(variant: "eager" | "compile"): Framework {
  return pythonRunner({
    name: variant === "eager" ? "torch" : "torch-compile",
    readyFramework: "torch",
    folder: "torch",
    description:
      variant === "eager"
        ? "PyTorch reference (Python): Hugging Face transformers Qwen3ForCausalLM, eager, on CUDA, MPS or CPU"
        : "PyTorch reference, compiled: transformers generate() with a static cache and torch.compile (CUDA graphs); CUDA only",
    modules: ["torch", "transformers", "safetensors"],
    async extras() {
      if (variant === "compile" && !(await platformFacts()).nvidiaGpu) return { unavailable: "needs an NVIDIA GPU (torch.compile with CUDA graphs)" };
      return [];
    },
    // A Python that already has torch and transformers (the GPU host's) is used as it is.
    async fallbackPython() {
      const python = env.BENCH_TORCH_PYTHON || "python3";
      return (await canImport(python, ["torch", "transformers", "safetensors"])) ? python : null;
    },
    installWhen: () => env.BENCH_INSTALL_TORCH === "1",
    installHint: "torch is several GB: set BENCH_INSTALL_TORCH=1 and run `npx qwen3-bench setup`, or point BENCH_TORCH_PYTHON at a Python that has torch and transformers",
    args: ["--variant", variant],
  });
}

/** The Burn runner (runners/burn) on one backend; one binary holds every backend built here. */
function burnRunner(backend: "cpu" | "wgpu" | "cuda", description: string, unavailableHere: () => Promise<string | null>): Framework {
  return {
    name: `burn-${backend}`,
    readyFramework: "burn",
    description,
    flags: BURN_FLAGS,
    async probe() {
      const reason = await unavailableHere();
      if (reason) return { available: false, reason };
      const backends = await compiledBackends();
      if (backends === null) return { available: false, reason: `not built: run \`npx qwen3-bench setup\` (cargo) or set BENCH_BURN_BIN (${burnBinary()} missing)` };
      if (!backends.includes(backend)) return { available: false, reason: `${burnBinary()} was built without the ${backend} feature (has: ${backends.join(", ")})` };
      return { available: true, reason: `${burnBinary()} (backends: ${backends.join(", ")})` };
    },
    async setup() {
      if (await unavailableHere()) return;
      await buildBurn();
    },
    async launch(modelDir, dtype) {
      return { framework: `burn-${backend}`, command: burnBinary(), args: ["--model", modelDir, "--dtype", dtype, "--backend", backend] };
    },
  };
}

const burnCpu = burnRunner("cpu", "Burn (Rust): Qwen3 on Burn's CPU backend (flex)", async () => null);
const burnWgpu = burnRunner("wgpu", "Burn (Rust): Qwen3 on Burn's wgpu backend (Vulkan), fusion and autotune on", async () => {
  const p = await platformFacts();
  if (!p.vulkanLoader) return "no Vulkan loader (libvulkan.so.1): install libvulkan1 and a Vulkan driver";
  // Without a GPU, Vulkan is Mesa's software rasterizer (lavapipe): minutes per case, nothing learnt.
  if (!p.gpuDeviceNode && env.BENCH_ALLOW_SOFTWARE_VULKAN !== "1") return "no GPU device node: Vulkan here would be software (lavapipe); BENCH_ALLOW_SOFTWARE_VULKAN=1 runs it anyway";
  return null;
});
const burnCuda = burnRunner("cuda", "Burn (Rust): Qwen3 on Burn's CUDA backend (cubecl), fusion and autotune on", async () =>
  (await platformFacts()).nvidiaGpu ? null : "needs an NVIDIA GPU (nvidia-smi lists none)",
);

/** Every framework the suite knows, in the order cases run (the reference first). */
export const FRAMEWORKS: Framework[] = [torchRunner("eager"), torchRunner("compile"), mlxLm, burnCuda, burnWgpu, burnCpu, ...APPLE_FRAMEWORKS];

export function frameworkByName(name: string): Framework {
  const found = FRAMEWORKS.find((f) => f.name === name);
  if (!found) throw new Error(`BENCH_FRAMEWORKS: unknown framework ${JSON.stringify(name)} (known: ${FRAMEWORKS.map((f) => f.name).join(", ")})`);
  return found;
}
