import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { integerFlag } from "../command-flags.ts";
import { splitFrameworkLabels } from "../framework-label.ts";
import { FRAMEWORKS } from "../frameworks.ts";
import { DEFAULT_MODEL_DIR, PROMPTS_FILE, REPO_ROOT } from "../paths.ts";
import { runDirName } from "../plan.ts";
import { loadPromptsFile } from "../prompts-file.ts";
import { Dtype } from "../schema/model-config.ts";
import { plainVariant, resolveVariants, type Variant } from "../variants.ts";
import { toolPrompts } from "./prompts.ts";
import type { FidelityRunOptions } from "./run.ts";
import { FRAMEWORKS_WITH_TOOLS } from "./tools.ts";

/** `qwen3-bench fidelity --run`'s flags (parseArgs options) and their defaults. */
export const FIDELITY_RUN_FLAGS = {
  run: { type: "boolean" }, frameworks: { type: "string" }, model: { type: "string" }, dtype: { type: "string", default: "f16" },
  prompts: { type: "string", default: PROMPTS_FILE }, "prompt-ids": { type: "string" }, "prompt-lengths": { type: "string" },
  "new-tokens": { type: "string", default: "128" }, repeats: { type: "string", default: "5" }, warmup: { type: "string", default: "1" },
  rounds: { type: "string", default: "1" }, "tool-budget-s": { type: "string", default: "150" }, "budget-s": { type: "string", default: "900" },
  out: { type: "string" }, results: { type: "string" }, "tools-only": { type: "boolean" },
} as const;

/** The flags' values as parseArgs gives them. */
export type FidelityRunFlags = { [K in keyof typeof FIDELITY_RUN_FLAGS]?: (typeof FIDELITY_RUN_FLAGS)[K]["type"] extends "string" ? string : boolean };

/** Without --frameworks: every framework with a tool that is available here, as its plain label. */
async function availableToolVariants(): Promise<Variant[]> {
  const withTools = FRAMEWORKS.filter((f) => FRAMEWORKS_WITH_TOOLS.includes(f.name));
  return (await Promise.all(withTools.map(async (f) => ((await f.probe()).available ? [plainVariant(f)] : [])))).flat();
}

/** The run's options from the flags, each checked with an error that names its flag (the command line adds command and log). */
export async function fidelityRunOptions(flags: FidelityRunFlags): Promise<Omit<FidelityRunOptions, "command" | "log">> {
  const dtype = Dtype.safeParse(flags.dtype);
  if (!dtype.success) throw new Error(`--dtype: expected f16, bf16 or f32, got ${JSON.stringify(flags.dtype)}`);
  const modelDir = resolve(flags.model ?? DEFAULT_MODEL_DIR);
  if (!existsSync(join(modelDir, "config.json"))) throw new Error(`--model ${modelDir}: no config.json there`);
  const variants = flags.frameworks ? resolveVariants(splitFrameworkLabels(flags.frameworks)) : await availableToolVariants();
  if (!variants.length) throw new Error("no framework with a fidelity tool is available here: give --frameworks, or run `npx qwen3-bench doctor`");
  const outDir = resolve(flags.out ?? join(REPO_ROOT, "results", `fidelity-${runDirName()}`));
  const [ids, lengths] = [flags["prompt-ids"], flags["prompt-lengths"]];
  return {
    variants,
    modelDir,
    dtype: dtype.data,
    prompts: toolPrompts(modelDir, flags.prompts!, {
      ids: ids ? ids.split(",").map((s) => s.trim()).filter(Boolean) : undefined,
      lengths: lengths ? lengths.split(",").map((t) => integerFlag("prompt-lengths", t.trim())) : undefined,
    }),
    newTokens: integerFlag("new-tokens", flags["new-tokens"]!, 2),
    repeats: integerFlag("repeats", flags.repeats!),
    warmup: integerFlag("warmup", flags.warmup!, 0),
    rounds: integerFlag("rounds", flags.rounds!),
    ours: !flags["tools-only"],
    toolBudgetSecs: integerFlag("tool-budget-s", flags["tool-budget-s"]!),
    budgetSecs: integerFlag("budget-s", flags["budget-s"]!),
    agreement: loadPromptsFile(flags.prompts!).prompts.config.agreement,
    outDir,
  };
}
