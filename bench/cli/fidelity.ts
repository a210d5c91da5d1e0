import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { FIDELITY_RUN_FLAGS, fidelityRunOptions } from "../harness/fidelity/options.ts";
import { runFidelity } from "../harness/fidelity/run.ts";
import { fidelityReport, readFidelityJsonl } from "../report/fidelity.ts";

export const FIDELITY_USAGE = `qwen3-bench fidelity RESULTS_DIR FIDELITY_JSONL
qwen3-bench fidelity --run [--frameworks LABELS] [--model DIR] [--dtype f16] [--prompt-ids a,b | --prompt-lengths 28,99]
                     [--new-tokens 128] [--repeats 5] [--warmup 1] [--rounds 1] [--tool-budget-s 150] [--budget-s 900]
                     [--out DIR] [--results RESULTS_DIR] [--tools-only]

Prints the fidelity table (markdown): each runner's median decode tok/s in a results folder (its
gpuN/ lane folders included) beside the same model, dtype and prompt length measured by the
framework's own tool, with the ratio ours / tool.

--run measures (bench/harness/fidelity/): for each harness label (default: every framework with a
tool that is available here), first our runner itself, through the benchmark's own measurement
(a fresh runner process, its warm-ups and per-token times; its results file under OUT/ours/), then
its framework's own way of decoding: transformers generate() (torch, torch-compile), torch-fast's
loop, mlx-lm's generate_step loop and mlx_lm.benchmark, Burn's --self-bench (a label's flags become
its arguments), llama-bench. So ours and the tool's come from one call on one machine; the table
takes ours from there (--tools-only: the tools alone, ours from --results). Prompts are the
harness's (--prompts FILE, default bench/prompts.json) or ids 0..P−1 (--prompt-lengths). Each tool
gets --tool-budget-s seconds (its later prompts are trimmed or skipped by the harness's budget
planner), the whole run --budget-s; --rounds k runs every tool k times, interleaved. Writes
OUT/fidelity.jsonl, one log per tool and OUT/fidelity.md; with --results, the table also names that
harness run's figure.`;

async function runCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: FIDELITY_RUN_FLAGS });
  const options = await fidelityRunOptions(values);
  const command = ["qwen3-bench", "fidelity", ...argv];
  const records = await runFidelity({ ...options, command, log: (line) => process.stderr.write(line + "\n") });
  const markdown = fidelityReport(values.results, records);
  writeFileSync(join(options.outDir, "fidelity.md"), markdown);
  process.stdout.write(markdown);
}

export async function fidelityCommand(argv: string[]): Promise<void> {
  if (argv.includes("--run")) return runCommand(argv);
  if (argv.length !== 2) throw new Error(`give a results folder and a fidelity.jsonl, or --run\n\n${FIDELITY_USAGE}`);
  const [resultsDir, jsonl] = argv;
  process.stdout.write(fidelityReport(resultsDir, readFidelityJsonl(jsonl)));
}
