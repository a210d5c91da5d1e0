import { z } from "zod";

/**
 * The ggml backends the llama.cpp runner is built for (runners/llama-cpp/build.sh `--backend`): one
 * build folder each. Read by BENCH_LLAMA_CPP_BACKEND (the default build) and by a label's `backend`
 * flag (`llama-cpp[backend=vulkan]`: that build's programs).
 */
export const LlamaCppBackend = z.enum(["cpu", "cuda", "vulkan", "metal"]);
export type LlamaCppBackend = z.infer<typeof LlamaCppBackend>;
