import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { FRAMEWORKS_WITH_TOOLS } from "../harness/fidelity/tools.ts";
import { runFidelity } from "../harness/fidelity/run.ts";
import type { ToolPrompt } from "../harness/fidelity/tool.ts";
import { splitFrameworkLabels } from "../harness/framework-label.ts";
import { FRAMEWORKS } from "../harness/frameworks.ts";
import { DEFAULT_MODEL_DIR, PROMPTS_FILE, REPO_ROOT } from "../harness/paths.ts";
import { runDirName } from "../harness/plan.ts";
import { loadPromptsFile } from "../harness/prompts-file.ts";
import { Dtype } from "../harness/schema/model-config.ts";
import { PromptTokenizer } from "../harness/tokenize.ts";
import { plainVariant, resolveVariants } from "../harness/variants.ts";
import { fidelityMarkdown, fidelityRows, readFidelityJsonl, runnerCases, type RunnerCase } from "../report/fidelity.ts";
import { loadResults } from "../report/summary.ts";

export const FIDELITY_USAGE = `qwen3-bench fidelity RESULTS_DIR FIDELITY_JSONL
qwen3-bench fidelity --run [--frameworks LABELS] [--model DIR] [--dtype f16] [--prompt-ids a,b | --prompt-lengths 28,99]
                     [--new-tokens 128] [--repeats 5] [--warmup 1] [--rounds 1] [--tool-budget-s 150] [--budget-s 900]
                     [--out DIR] [--results RESULTS_DIR]

Prints the fidelity table (markdown): each runner's median decode tok/s in a results folder (its
gpuN/ lane folders included) beside the same model, dtype and prompt length measured by the
framework's own tool, with the ratio ours / tool.

--run measures the tools first (bench/harness/fidelity/): for each harness label (default: every
framework with a tool that is available here), its framework's own way of decoding: transformers
generate() (torch, torch-compile), torch-fast's loop, mlx-lm's generate_step loop and
mlx_lm.benchmark, Burn's --self-bench (a label's flags become its arguments), llama-bench. Prompts
are the harness's (--prompts FILE, default bench/prompts.json) or ids 0..P−1 (--prompt-lengths).
Each tool gets --tool-budget-s seconds (its later prompts are trimmed or skipped by the harness's
budget planner), the whole run --budget-s; --rounds k runs every tool k times, interleaved. Writes
OUT/fidelity.jsonl, one log per tool and OUT/fidelity.md; with --results, the table joins that
harness run.`;

/** The folder itself and its lane folders (gpu0/, gpu1/, ...), as the report reads a lanes run. */
function resultsPaths(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [dir];
  const lanes = readdirSync(dir).filter((n) => /^gpu\d+$/.test(n)).sort().map((n) => join(dir, n));
  return [dir, ...lanes];
}

const casesOf = (resultsDir: string | undefined): RunnerCase[] => (resultsDir ? runnerCases(loadResults(resultsPaths(resultsDir))) : []);

const positiveInt = (name: string, text: string, min = 1): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer ≥ ${min}, got ${JSON.stringify(text)}`);
  return n;
};

/** The prompts the tools decode after: the harness's, tokenized as every runner gets them, or 0..P−1 per length. */
function toolPrompts(modelDir: string, file: string, ids: string | undefined, lengths: string | undefined): ToolPrompt[] {
  if (lengths) return lengths.split(",").map((t) => positiveInt("prompt-lengths", t.trim())).map((n) => ({ id: `p${n}`, ids: [...Array(n).keys()] }));
  const prompts = loadPromptsFile(file).prompts.prompts;
  const wanted = ids ? ids.split(",").map((s) => s.trim()).filter(Boolean) : prompts.map((p) => p.id);
  const unknown = wanted.filter((id) => !prompts.some((p) => p.id === id));
  if (unknown.length) throw new Error(`--prompt-ids: ${unknown.join(", ")} not in ${file} (has: ${prompts.map((p) => p.id).join(", ")})`);
  const tokenizer = new PromptTokenizer(modelDir);
  return prompts.filter((p) => wanted.includes(p.id)).map((p) => ({ id: p.id, ids: tokenizer.tokenize(p).promptTokenIds }));
}

async function runCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      run: { type: "boolean" }, frameworks: { type: "string" }, model: { type: "string" }, dtype: { type: "string", default: "f16" },
      prompts: { type: "string", default: PROMPTS_FILE }, "prompt-ids": { type: "string" }, "prompt-lengths": { type: "string" },
      "new-tokens": { type: "string", default: "128" }, repeats: { type: "string", default: "5" }, warmup: { type: "string", default: "1" },
      rounds: { type: "string", default: "1" }, "tool-budget-s": { type: "string", default: "150" }, "budget-s": { type: "string", default: "900" },
      out: { type: "string" }, results: { type: "string" },
    },
  });
  const dtype = Dtype.safeParse(values.dtype);
  if (!dtype.success) throw new Error(`--dtype: expected f16, bf16 or f32, got ${JSON.stringify(values.dtype)}`);
  const modelDir = resolve(values.model ?? DEFAULT_MODEL_DIR);
  if (!existsSync(join(modelDir, "config.json"))) throw new Error(`--model ${modelDir}: no config.json there`);
  const variants = values.frameworks
    ? resolveVariants(splitFrameworkLabels(values.frameworks))
    : (
        await Promise.all(
          FRAMEWORKS.filter((f) => FRAMEWORKS_WITH_TOOLS.includes(f.name)).map(async (f) => ((await f.probe()).available ? [plainVariant(f)] : [])),
        )
      ).flat();
  if (!variants.length) throw new Error("no framework with a fidelity tool is available here: give --frameworks, or run `npx qwen3-bench doctor`");
  const outDir = resolve(values.out ?? join(REPO_ROOT, "results", `fidelity-${runDirName()}`));
  const records = await runFidelity({
    variants,
    modelDir,
    dtype: dtype.data,
    prompts: toolPrompts(modelDir, values.prompts!, values["prompt-ids"], values["prompt-lengths"]),
    newTokens: positiveInt("new-tokens", values["new-tokens"]!, 2),
    repeats: positiveInt("repeats", values.repeats!),
    warmup: positiveInt("warmup", values.warmup!, 0),
    rounds: positiveInt("rounds", values.rounds!),
    toolBudgetSecs: positiveInt("tool-budget-s", values["tool-budget-s"]!),
    budgetSecs: positiveInt("budget-s", values["budget-s"]!),
    agreement: loadPromptsFile(values.prompts!).prompts.config.agreement,
    outDir,
    command: ["qwen3-bench", "fidelity", ...argv],
    log: (line) => process.stderr.write(line + "\n"),
  });
  const markdown = fidelityMarkdown(fidelityRows(casesOf(values.results), records), records);
  writeFileSync(join(outDir, "fidelity.md"), markdown);
  process.stdout.write(markdown);
}

export async function fidelityCommand(argv: string[]): Promise<void> {
  if (argv.includes("--run")) return runCommand(argv);
  if (argv.length !== 2) throw new Error(`give a results folder and a fidelity.jsonl, or --run\n\n${FIDELITY_USAGE}`);
  const [resultsDir, jsonl] = argv;
  const records = readFidelityJsonl(jsonl);
  process.stdout.write(fidelityMarkdown(fidelityRows(casesOf(resultsDir), records), records));
}
