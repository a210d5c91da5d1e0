import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { DEFAULT_MODEL_DIR, PROMPTS_FILE, REPO_ROOT } from "./paths.ts";
import { Dtype } from "./schema/model-config.ts";
import { parseProfilers } from "./profiler.ts";
import { formatIssues } from "./schema/parse.ts";
import { DEFAULT_ENDPOINT, isTrueEnv, parseModelPath, type HubConfig, type ModelSource } from "./model/hub-source.ts";
import { splitFrameworkLabels } from "./framework-label.ts";
import { parseDepths } from "./depth.ts";
import { parseDtypes } from "./precision.ts";
import { LlamaCppBackend } from "./schema/llama-cpp-backend.ts";

/** The environment knobs a user sets (docs/configuration.md, "Environment knobs"). */
const Env = z.object({
  MODEL_PATH: z.string().min(1).optional(),
  // Hugging Face's own variables, read as huggingface_hub reads them (its constants.py).
  HF_HOME: z.string().min(1).optional(),
  XDG_CACHE_HOME: z.string().min(1).optional(),
  HF_HUB_CACHE: z.string().min(1).optional(),
  HUGGINGFACE_HUB_CACHE: z.string().min(1).optional(),
  HF_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  HF_HUB_OFFLINE: z.string().optional(),
  TRANSFORMERS_OFFLINE: z.string().optional(),
  HF_TOKEN: z.string().min(1).optional(),
  HF_TOKEN_PATH: z.string().min(1).optional(),
  BENCH_FRAMEWORKS: z.string().optional(),
  BENCH_PROFILE: z.enum(["quick", "full"]).optional(),
  BENCH_DTYPE: z.string().default("f16"),
  BENCH_RESULTS_DIR: z.string().min(1).optional(),
  BENCH_REFERENCE: z.string().min(1).default("torch"),
  BENCH_PROMPT_IDS: z.string().optional(),
  BENCH_PROMPTS: z.string().min(1).optional(),
  BENCH_MAX_NEW_TOKENS: z.coerce.number().int().min(2).optional(),
  BENCH_WARMUP_ITERATIONS: z.coerce.number().int().nonnegative().optional(),
  BENCH_TIMED_ITERATIONS: z.coerce.number().int().positive().optional(),
  BENCH_GPU_POWER: z.enum(["on", "off"]).default("on"),
  BENCH_MEMORY: z.enum(["on", "off"]).default("on"),
  BENCH_PARALLEL_START: z.enum(["on", "off"]).default("off"),
  BENCH_RUNS_PER_PROCESS: z.coerce.number().int().positive().optional(),
  BENCH_INTERLEAVE: z.enum(["on", "off"]).optional(),
  BENCH_BUDGET_SECS: z.coerce.number().nonnegative().optional(),
  BENCH_LANES: z.string().optional(),
  BENCH_PROFILER: z.string().optional(),
  BENCH_DEPTHS: z.string().optional(),
});

export interface Settings {
  /** MODEL_PATH: a model folder (the synthetic default when unset), or a hub name `org/name[@revision]` resolved by prepare.ts. */
  model: ModelSource;
  /** Where hub names resolve: the Hugging Face cache, endpoint, offline switch and token (model/hub-source.ts). */
  hub: HubConfig;
  /** Frameworks asked for by name, or null for "every framework available here". */
  frameworks: string[] | null;
  /** null: choose from the hardware (full where a GPU or Apple Silicon runs the runner). */
  profile: "quick" | "full" | null;
  /** The run's dtype: BENCH_DTYPE's first (default f16). */
  dtype: Dtype;
  /** BENCH_DTYPE's dtypes, in order ("f16,bf16": each framework once per dtype, harness/precision.ts). */
  dtypes: Dtype[];
  /** Absolute results root; each run writes <resultsRoot>/<timestamp>/. */
  resultsRoot: string;
  /** Framework whose tokens the others are checked against, when it runs. */
  reference: string;
  /** Only these prompt ids (BENCH_PROMPT_IDS), or null for all. */
  promptIds: string[] | null;
  /** The prompts file, absolute (BENCH_PROMPTS: this project's format or the original benchmark's; harness/prompts-file.ts), else bench/prompts.json. */
  promptsFile: string;
  /** Per-run overrides of the chosen profile (llama-bench's -n and -r). */
  profileOverrides: { max_new_tokens?: number; warmup_iterations?: number; timed_iterations?: number };
  /** Sample GPU board power with nvidia-smi during GPU runs (BENCH_GPU_POWER, default on). */
  gpuPower: boolean;
  /** Interleaved: start every runner at once (BENCH_PARALLEL_START=on; their load times overlap). */
  parallelStart?: boolean;
  /** Measure each runner's memory from outside it during requests (BENCH_MEMORY, default on; memory/sampler.ts). */
  memorySampling?: boolean;
  /**
   * Timed runs per runner process (BENCH_RUNS_PER_PROCESS), or null for all of a framework's runs in
   * one process. 1: every timed run in a fresh process after its own warm-up, so the gate's block (the
   * run) is a process and its interval counts process-to-process variation
   * (docs/gating.md).
   */
  runsPerProcess?: number | null;
  /**
   * Rotate frameworks request by request within each prompt (BENCH_INTERLEAVE=on) instead of running
   * each framework's cases in one block (off); undefined: the plan decides (plan.ts, decideInterleave).
   */
  interleave?: boolean;
  /**
   * Request seconds per runner (BENCH_BUDGET_SECS; 0 turns the budget off). undefined: the profile's
   * budget, unless counts were set by hand (BENCH_MAX_NEW_TOKENS, ...), which then run as asked.
   */
  budgetSecs?: number;
  /** BENCH_LANES ("fw,fw;fw,fw": lane i on GPU i, bench/harness/lanes.ts), or null for one run. */
  lanes?: string | null;
  /** BENCH_PROFILER: the runners' profiling switches to set (bench/harness/profiler.ts); empty for none. */
  profilers?: string[];
  /** BENCH_DEPTHS: KV-cache depths, tokens, ascending (bench/harness/depth.ts; the cases become the base prompt at each depth), or null for the prompts as they are. */
  depths?: number[] | null;
}

/** One knob schema applied to the environment: empty values count as unset; a bad value is one error naming it. */
function parseEnv<Schema extends z.ZodType>(schema: Schema, env: NodeJS.ProcessEnv): z.infer<Schema> {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")));
  if (!parsed.success) throw new Error(`environment: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const e = parseEnv(Env, env);
  const dtypes = parseDtypes(e.BENCH_DTYPE);
  const model: ModelSource = e.MODEL_PATH ? parseModelPath(e.MODEL_PATH, (p) => resolve(p), existsSync) : { kind: "folder", dir: DEFAULT_MODEL_DIR, isDefault: true };
  const frameworks = e.BENCH_FRAMEWORKS
    ? splitFrameworkLabels(e.BENCH_FRAMEWORKS)
    : null;
  const resultsRoot = e.BENCH_RESULTS_DIR
    ? (isAbsolute(e.BENCH_RESULTS_DIR) ? e.BENCH_RESULTS_DIR : resolve(e.BENCH_RESULTS_DIR))
    : join(REPO_ROOT, "results");
  return {
    model,
    hub: hubConfig(e),
    frameworks,
    profile: e.BENCH_PROFILE ?? null,
    dtype: dtypes[0],
    dtypes,
    resultsRoot,
    reference: e.BENCH_REFERENCE,
    promptIds: e.BENCH_PROMPT_IDS ? e.BENCH_PROMPT_IDS.split(",").map((s) => s.trim()).filter(Boolean) : null,
    promptsFile: e.BENCH_PROMPTS ? resolve(e.BENCH_PROMPTS) : PROMPTS_FILE,
    profileOverrides: Object.fromEntries(
      Object.entries({
        max_new_tokens: e.BENCH_MAX_NEW_TOKENS,
        warmup_iterations: e.BENCH_WARMUP_ITERATIONS,
        timed_iterations: e.BENCH_TIMED_ITERATIONS,
      }).filter(([, v]) => v !== undefined),
    ),
    gpuPower: e.BENCH_GPU_POWER === "on",
    memorySampling: e.BENCH_MEMORY === "on",
    parallelStart: e.BENCH_PARALLEL_START === "on",
    runsPerProcess: e.BENCH_RUNS_PER_PROCESS ?? null,
    interleave: e.BENCH_INTERLEAVE === undefined ? undefined : e.BENCH_INTERLEAVE === "on",
    budgetSecs: e.BENCH_BUDGET_SECS,
    lanes: e.BENCH_LANES ?? null,
    profilers: parseProfilers(e.BENCH_PROFILER),
    depths: e.BENCH_DEPTHS ? parseDepths(e.BENCH_DEPTHS) : null,
  };
}

/** huggingface_hub's paths and switches (constants.py): HF_HOME defaults to $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
function hubConfig(e: z.infer<typeof Env>): HubConfig {
  const expand = (p: string) => (p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p);
  const home = resolve(expand(e.HF_HOME ?? join(e.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface")));
  return {
    cacheDir: resolve(expand(e.HF_HUB_CACHE ?? e.HUGGINGFACE_HUB_CACHE ?? join(home, "hub"))),
    endpoint: (e.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    offline: isTrueEnv(e.HF_HUB_OFFLINE ?? e.TRANSFORMERS_OFFLINE),
    token: e.HF_TOKEN ?? null,
    tokenFile: resolve(expand(e.HF_TOKEN_PATH ?? join(home, "token"))),
  };
}

/** True when the default model folder exists with its weights. */
export const defaultModelExists = (): boolean => existsSync(join(DEFAULT_MODEL_DIR, "model.safetensors"));

/**
 * The process's environment, live. Every read of it in bench/ goes through this file
 * (bench/tests/env-reads.test.ts): the knob readers here parse it, and a child process inherits a
 * copy of it with its own additions (`{ ...processEnvironment(), ...extra }`).
 */
export const processEnvironment = (): NodeJS.ProcessEnv => process.env;

/**
 * Knobs read where a build, a probe or the report needs them rather than fixed in a run's plan
 * (readSettings): where runner binaries are built or found, and facts of the host's environment.
 */
const HostEnv = z.object({
  // XDG_CACHE_HOME (the cache root; the project's is its qwen3-bench/ folder, benchCacheDir) and
  // BENCH_PROFILER (also read by the Burn build for its profiling features), as Env reads them.
  ...Env.pick({ XDG_CACHE_HOME: true, BENCH_PROFILER: true }).shape,
  /** Cargo's target folder for the Burn runners; default <benchCacheDir>/cargo-target. */
  CARGO_TARGET_DIR: z.string().min(1).optional(),
  /** A prebuilt Burn runner binary (runners/burn); setup then builds nothing. */
  BENCH_BURN_BIN: z.string().min(1).optional(),
  /** Cargo features of the Burn runner build, comma-separated; default: those this host can run. */
  BENCH_BURN_FEATURES: z.string().min(1).optional(),
  /** "linux-cpu": build burn-mlx on Linux against the mlx-cpu wheel (harness/setup/burn-mlx-build.ts); other values mean nothing. */
  BENCH_BURN_MLX: z.string().min(1).optional(),
  /** A prebuilt burn-mlx runner binary; setup then builds nothing. */
  BENCH_BURN_MLX_BIN: z.string().min(1).optional(),
  /** A prebuilt mlx-swift runner binary; setup then builds nothing. */
  BENCH_MLX_SWIFT_BIN: z.string().min(1).optional(),
  /** A folder of wheels the Python runners' venvs install from (offline hosts: scripts/offline-pack.sh). */
  BENCH_WHEELS_DIR: z.string().min(1).optional(),
  /** A font file (TTF/OTF) for the report's charts, before the bundled fallbacks. */
  BENCH_CHART_FONT: z.string().min(1).optional(),
  /** The dynamic loader's extra library folders (colon-separated): a Vulkan loader brought to an offline host is looked for there. */
  LD_LIBRARY_PATH: z.string().optional(),
  /** CUDA's visible devices; a plain index first names the GPU whose power and memory are sampled (host/power.ts visibleGpuIndex). */
  CUDA_VISIBLE_DEVICES: z.string().optional(),
  /** mlx-lm's MLX wheel: "cuda13", "cpu"...; default cuda13 with an NVIDIA GPU, else cpu (frameworks.ts). */
  BENCH_MLX_BACKEND: z.string().min(1).optional(),
  /** A Python with torch and transformers for the torch runners instead of their venv; default python3 where it has them. */
  BENCH_TORCH_PYTHON: z.string().min(1).optional(),
  /** "1": setup installs torch into the torch runners' venv (a large download). */
  BENCH_INSTALL_TORCH: z.string().optional(),
  /** "1": run burn-wgpu on software Vulkan (lavapipe) where there is no GPU device node. */
  BENCH_ALLOW_SOFTWARE_VULKAN: z.string().optional(),
  /** A folder where each case's raw vitest bench result is saved (harness/vitest-results.ts). */
  BENCH_VITEST_SAVE: z.string().min(1).optional(),
  /** A folder of saved vitest bench results each case is compared with. */
  BENCH_VITEST_BASELINE: z.string().min(1).optional(),
});

export type HostSettings = z.infer<typeof HostEnv>;

/** The host knobs (HostEnv) as set now; empty values mean unset. */
export function hostSettings(env: NodeJS.ProcessEnv = processEnvironment()): HostSettings {
  return parseEnv(HostEnv, env);
}

/** This project's cache folder: $XDG_CACHE_HOME/qwen3-bench, else ~/.cache/qwen3-bench (builds, venvs, setup outcomes). */
export const benchCacheDir = (env: NodeJS.ProcessEnv = processEnvironment()): string => join(hostSettings(env).XDG_CACHE_HOME ?? join(homedir(), ".cache"), "qwen3-bench");

/** A variable the harness sets for its own processes (the run folder for the reporter, the run's start, a lane's index), or null. */
export const harnessVariable = (name: string, env: NodeJS.ProcessEnv = processEnvironment()): string | null => env[name] || null;

/** Sets a harness variable for this process and the processes it starts (the reporter, a lane's vitest). */
export const setHarnessVariable = (name: string, value: string): void => {
  processEnvironment()[name] = value;
};

/** The llama.cpp runner's knobs (runners/llama-cpp/README.md, "Build"), read where its setup and launch need them. */
const LlamaCppEnv = z.object({
  BENCH_LLAMA_CPP_BIN: z.string().min(1).optional(),
  BENCH_LLAMA_CPP_SOURCE: z.string().min(1).optional(),
  BENCH_LLAMA_CPP_PYTHON: z.string().min(1).optional(),
  BENCH_LLAMA_CPP_BACKEND: LlamaCppBackend.optional(),
  BENCH_LLAMA_CPP_CUDA_ARCH: z.string().regex(/^[0-9a-z;,-]+$/).optional(),
});

export interface LlamaCppSettings {
  /**
   * Prebuilt folders (BENCH_LLAMA_CPP_BIN, separated like PATH), each build.sh's DIR/bin: the three
   * programs and a build-features file whose first line is the backend. Setup builds the backends
   * none of them holds.
   */
  prebuiltBins: string[];
  /** A llama.cpp tree, or one packed by scripts/offline-pack.sh (.tar.xz), to build from instead of the llama-cpp-python sdist (BENCH_LLAMA_CPP_SOURCE). */
  source: string | null;
  /** A Python with torch and transformers for llama.cpp's converter, instead of the converter venv (BENCH_LLAMA_CPP_PYTHON; else python3 when it has them). */
  converterPython: string | null;
  /** The default build's ggml backend (BENCH_LLAMA_CPP_BACKEND), or null: Metal on macOS, CUDA with an NVIDIA GPU and nvcc or a prebuilt CUDA folder, else the CPU. A label's `backend` flag picks another. */
  backend: LlamaCppBackend | null;
  /** CMAKE_CUDA_ARCHITECTURES (BENCH_LLAMA_CPP_CUDA_ARCH), or null: the GPU's compute capability. */
  cudaArch: string | null;
}

export function readLlamaCppSettings(env: NodeJS.ProcessEnv = process.env): LlamaCppSettings {
  const e = parseEnv(LlamaCppEnv, env);
  return {
    prebuiltBins: (e.BENCH_LLAMA_CPP_BIN ?? "").split(delimiter).filter(Boolean).map((dir) => resolve(dir)),
    source: e.BENCH_LLAMA_CPP_SOURCE ? resolve(e.BENCH_LLAMA_CPP_SOURCE) : null,
    converterPython: e.BENCH_LLAMA_CPP_PYTHON ?? null,
    backend: e.BENCH_LLAMA_CPP_BACKEND ?? null,
    cudaArch: e.BENCH_LLAMA_CPP_CUDA_ARCH ?? null,
  };
}
