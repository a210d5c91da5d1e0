import { PROMPTS_FILE } from "./paths.ts";
import { InputFileError, parseJsonFile, parseWith, readJsonFile } from "./schema/parse.ts";
import { CustomPromptsFile, OriginalConfig, OriginalPrompt, OriginalPromptsFile, PromptsFile, type Prompt } from "./schema/prompts.ts";

/** A prompts file as loaded, in this project's shape whatever format it was written in. */
export interface LoadedPrompts {
  file: string;
  format: "qwen3-bench" | "original";
  prompts: PromptsFile;
  /** Keys of the file that have no counterpart here and were ignored, as field paths ("config.top_p"). */
  ignoredKeys: string[];
}

/** The prompt id of an original-format label: lower case, any run of other characters than a-z, 0-9, '_', '-' as one '-'. */
export function labelToPromptId(label: string): string {
  return label
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** Is this parsed JSON the original benchmark's format (its prompts carry label/system_prompt/user_message)? */
function isOriginalFormat(value: unknown): boolean {
  const prompts = (value as { prompts?: unknown } | null)?.prompts;
  if (!Array.isArray(prompts)) return false;
  // `id` is a key of both formats: the others tell them apart.
  const originalKeys = Object.keys(OriginalPrompt.shape).filter((k) => k !== "id");
  return prompts.some((p) => typeof p === "object" && p !== null && originalKeys.some((k) => k in p));
}

/** Keys of `object` outside `known`, as field paths under `path`. */
function unknownKeys(object: unknown, known: string[], path: string): string[] {
  if (typeof object !== "object" || object === null || Array.isArray(object)) return [];
  return Object.keys(object)
    .filter((k) => !known.includes(k))
    .map((k) => `${path}${k}`);
}

/**
 * The original format in this project's shape: each prompt's `id` where it has one, else its label
 * made into an id (so results match the original tools' `prompt_id` prompt by prompt); the config
 * keys that correspond set the full profile.
 */
function fromOriginal(file: string, value: unknown, defaults: PromptsFile): LoadedPrompts {
  const original = parseWith(file, OriginalPromptsFile, value);
  const prompts: Prompt[] = original.prompts.map((p) => ({ id: p.id ?? labelToPromptId(p.label), system: p.system_prompt, user: p.user_message }));
  const source = (i: number) => `prompts.${i}.${original.prompts[i].id === undefined ? "label" : "id"}`;
  const seen = new Map<string, number>();
  prompts.forEach((p, i) => {
    const earlier = seen.get(p.id);
    if (earlier !== undefined) throw new InputFileError(file, `${source(i)}: gives the prompt id ${JSON.stringify(p.id)}, as ${source(earlier)} does; prompt ids must differ (labels in more than case and punctuation)`);
    seen.set(p.id, i);
  });
  const raw = value as { config?: unknown; prompts: unknown[] };
  const ignoredKeys = [
    ...unknownKeys(raw, ["config", "prompts"], ""),
    ...unknownKeys(raw.config, Object.keys(OriginalConfig.shape), "config."),
    ...raw.prompts.flatMap((p, i) => unknownKeys(p, Object.keys(OriginalPrompt.shape), `prompts.${i}.`)),
  ];
  const { max_new_tokens, warmup_iterations, timed_iterations, cooldown_secs } = original.config;
  const counts = Object.fromEntries(Object.entries({ max_new_tokens, warmup_iterations, timed_iterations, cooldown_secs }).filter(([, v]) => v !== undefined));
  const full = { ...defaults.config.profiles.full, ...counts };
  return { file, format: "original", prompts: { config: { ...defaults.config, profiles: { ...defaults.config.profiles, full } }, prompts }, ignoredKeys };
}

/**
 * Loads a prompts file (BENCH_PROMPTS, `qwen3-bench tokenize FILE`) in this project's format
 * (bench/prompts.json; `config` optional) or the original benchmark's (`config` and
 * `prompts: [{label, system_prompt, user_message}]`), inferred from its prompts' keys. Every bad
 * field is named with the file in one InputFileError. What this project has no use for is listed
 * in `ignoredKeys`.
 */
export function loadPromptsFile(file: string, defaultsFile = PROMPTS_FILE): LoadedPrompts {
  const value = readJsonFile(file);
  const defaults = (): PromptsFile => parseJsonFile(defaultsFile, PromptsFile);
  if (isOriginalFormat(value)) return fromOriginal(file, value, defaults());
  const custom = parseWith(file, CustomPromptsFile, value);
  return { file, format: "qwen3-bench", prompts: { config: custom.config ?? defaults().config, prompts: custom.prompts }, ignoredKeys: [] };
}

/**
 * The prompts of `file` named by `ids` (all of them where null), in the file's order; an id the file
 * lacks is one error naming the knob that gave it (`BENCH_PROMPT_IDS`, `--prompt-id`) and the file.
 */
export function selectPrompts(file: string, prompts: Prompt[], ids: string[] | null, knob: string): Prompt[] {
  if (!ids) return prompts;
  for (const id of ids) {
    if (!prompts.some((p) => p.id === id)) throw new Error(`${knob}: unknown prompt ${JSON.stringify(id)} in ${file} (known: ${prompts.map((p) => p.id).join(", ")})`);
  }
  return prompts.filter((p) => ids.includes(p.id));
}
