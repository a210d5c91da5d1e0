import { LlamaCppBackend } from "./schema/llama-cpp-backend.ts";

/**
 * A runner command-line flag a framework accepts in a label (`burn-cuda[decode-graph=off]`): the
 * values it takes and the arguments they become. Declared per framework entry (Framework.flags).
 */
export interface RunnerFlag {
  /** What the flag changes, for error messages and `doctor`. */
  description: string;
  /** The values the flag takes. */
  values: readonly string[];
  /** The runner's command-line arguments for one value. */
  args(value: string): string[];
  /**
   * True for a value that quantizes the weights: such a label's tokens are checked against the same
   * framework's unquantized label, not the reference (agreement.ts, unquantizedLabels).
   */
  quantizes?(value: string): boolean;
  /**
   * Bits per weight of a quantizing value where the runner quantizes at load and so no
   * QuantizationRecord names them (burn's `quant`): the agreement threshold's width (agreement.ts,
   * labelQuantizedBits).
   */
  bits?(value: string): number;
}

/** Flags of the Burn runner (runners/burn, every backend): its `--attention`, `--decode-graph`, `--kernels`, `--prefill-chunk`, `--chunk-attention`, `--split-from`, `--memory-plan` and `--quant`. */
export const BURN_FLAGS: Record<string, RunnerFlag> = {
  attention: {
    description: "attention body: Burn's attention op (burn) or softmax(QKᵀ)V written out (explicit); default burn on CUDA, explicit elsewhere",
    values: ["burn", "explicit"],
    args: (value) => ["--attention", value],
  },
  "decode-graph": {
    description: "replay the decode step as a captured device graph where the backend can (on, default) or issue every operation (off)",
    values: ["on", "off"],
    args: (value) => ["--decode-graph", value],
  },
  kernels: {
    description: "Burn's own operations (burn, default), or this runner's CubeCL kernels (runners/burn/src/kernels/; checked on CUDA and Vulkan, not yet on Metal): gemv (the decode step's matrix-vector products), gemv+norm (and RMSNorm), gemv+norm+attention (and the decode step's attention, one kernel a layer), gemv+norm+attention+fuse (and the residual adds and SwiGLU inside the products), gemv+norm+attention+fuse+prenorm (and the residual stream's RMSNorm inside the products; attention one cube per KV head), custom (all of them: attention over long caches split over the multiprocessors too, up to the model's window), custom+rows (custom with one weight layout: the kernels' [out, in] rows also serve prefill and Burn's [in, out] copy is not kept; saves the second copy of every untied linear weight; on an H100 the same decode speed in 798 MiB less, with a slower prefill: an A/B label against custom, runners/burn/README.md \"One weight layout\")",
    values: ["burn", "gemv", "gemv+norm", "gemv+norm+attention", "gemv+norm+attention+fuse", "gemv+norm+attention+fuse+prenorm", "custom", "custom+rows"],
    args: (value) => ["--kernels", value],
  },
  "prefill-chunk": {
    description:
      "the longest prompt prefilled in one pass, in tokens; a longer one runs in chunks of that many against the whole cache under a mask. Default: every prompt in one pass on CUDA with Burn's attention op (a flash kernel; a 4,096-token prefill took 0.12–0.14 s that way and 16.7 s in chunks of 2048 on one H100, 2026-12-08), 2048 elsewhere (mlx-lm's prefill_step_size; runners/burn/README.md, \"Long prompts\"). 65536 prefills every depth in one pass, 2048 chunks on CUDA too: A/B labels for prefill at depth",
    values: ["1024", "2048", "4096", "8192", "16384", "32768", "65536"],
    args: (value) => ["--prefill-chunk", value],
  },
  "chunk-attention": {
    description:
      "how a long prompt's chunks attend to the cache: the explicit form (explicit: matmul, mask, softmax, matmul) or Burn's attention op with the chunk's mask as a tensor (burn: a flash kernel where the backend has one); default burn on the CPU (measured faster there), explicit elsewhere. An A/B label for prefill at depth (runners/burn/README.md, \"Long prompts\")",
    values: ["explicit", "burn"],
    args: (value) => ["--chunk-attention", value],
  },
  "split-from": {
    description:
      "with kernels that split the attention's walk (custom): caches of more than this many slots split it over the multiprocessors, shorter ones keep one cube per KV head (default 256: the long prompt's 768-slot cache splits, 1.17× as fast as 1024 through the harness on one H100, 2026-12-08, tokens identical; 0 splits every cache; the runner refuses it without split). 1024 keeps the long prompt on one cube: an A/B label (runners/burn/README.md, \"Attention over all multiprocessors\")",
    values: ["0", "256", "512", "768", "1024", "2048"],
    args: (value) => ["--split-from", value],
  },
  "memory-plan": {
    description: "device memory layout (runners/burn/src/memory.rs): fitted, the runner's default since 2026-12-07 (weights in the persistent pool, one exact-size pool for the rest, free pages returned after the warm-up), or default, Burn's own pools (an A/B label: the same decode speed in about twice the memory); backends without CubeCL pools (burn-cpu) follow neither",
    values: ["default", "fitted"],
    args: (value) => ["--memory-plan", value],
  },
  quant: {
    description:
      "linear weights quantized at load by Burn's own quantize_dynamic (runners/burn/src/quant.rs): q8 or q4, symmetric, one f32 scale per 32 inputs of each [out, in] row; embeddings, norms and a tied LM head unquantized. Burn's CPU backend dequantizes every weight on every product (runners/burn/README.md, \"Quantization\")",
    values: ["q8", "q4"],
    args: (value) => ["--quant", value],
    quantizes: () => true,
    bits: (value) => (value === "q8" ? 8 : 4),
  },
};

/** torch-fast's `--attention` (runners/torch/fast_model.py, ATTENTION): an A/B label against the written-out default. */
export const TORCH_FAST_FLAGS: Record<string, RunnerFlag> = {
  attention: {
    description: "attention body: softmax(QKᵀ)V written out with f32 scores (explicit, default) or torch's scaled_dot_product_attention over the static cache, grouped KV heads in the call (sdpa, as gpt-fast calls it)",
    values: ["explicit", "sdpa"],
    args: (value) => ["--attention", value],
  },
};

/**
 * The MLX runners' (mlx-lm, mlx-swift, burn-mlx) `--device`: `auto` (default) takes the GPU where
 * MLX has one and the CPU otherwise; `cpu` forces MLX's CPU backend (a GitHub-hosted Mac's
 * paravirtual Metal device cannot be trusted with results).
 */
export const MLX_FLAGS: Record<string, RunnerFlag> = {
  device: {
    description: "MLX device: auto (the GPU where MLX has one, else the CPU), gpu, or cpu",
    values: ["auto", "gpu", "cpu"],
    args: (value) => ["--device", value],
  },
};

/**
 * The llama.cpp runner's `--type` (runners/llama-cpp): the GGUF weight type, made from the model
 * folder by llama.cpp's converter (f32, f16, bf16) or quantizer (q8_0, q4_k_m, from the run's
 * dtype). Default: the run's dtype. A quantized type's tokens are checked against the same
 * framework's unquantized row (`quantizes`, agreement.ts), of the same backend. `backend`: which
 * build's programs run (frameworks-llama-cpp.ts picks the folder), so CUDA and Vulkan can be two
 * labels of one run.
 */
export const LLAMA_CPP_FLAGS: Record<string, RunnerFlag> = {
  type: {
    description: "GGUF weight type: f32, f16, bf16 (llama.cpp's convert_hf_to_gguf.py) or q8_0, q4_k_m (llama-quantize of the run's dtype); default the run's dtype",
    values: ["f32", "f16", "bf16", "q8_0", "q4_k_m"],
    args: (value) => ["--type", value],
    quantizes: (value) => value === "q8_0" || value === "q4_k_m",
  },
  backend: {
    description:
      "which build runs (one per ggml backend, each in its own folder: runners/llama-cpp/README.md): cpu, cuda, vulkan or metal; default the machine's (BENCH_LLAMA_CPP_BACKEND); a GPU backend is started with --device gpu, so a build that finds no GPU fails instead of running on the CPU",
    values: LlamaCppBackend.options,
    args: (value) => ["--device", value === "cpu" ? "cpu" : "gpu"],
  },
};

/**
 * mlx-lm's flags: MLX's `device`, and `quant`: MLX affine 4- or 8-bit weights, group size 64
 * (mlx-lm's defaults), in a copy the harness makes with mlx_lm convert (bench/harness/mlx-quant.ts)
 * and starts the runner on; no runner argument of its own. Its tokens are checked against the same
 * framework's unquantized row (`quantizes`, agreement.ts).
 */
export const MLX_LM_FLAGS: Record<string, RunnerFlag> = {
  ...MLX_FLAGS,
  quant: {
    description: "MLX affine quantized weights, group size 64, made by mlx_lm convert -q from the model: 4bit or 8bit",
    values: ["4bit", "8bit"],
    args: () => [],
    quantizes: () => true,
  },
};
