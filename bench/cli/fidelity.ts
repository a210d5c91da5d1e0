import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fidelityMarkdown, fidelityRows, readFidelityJsonl, runnerCases } from "../report/fidelity.ts";
import { loadResults } from "../report/summary.ts";

export const FIDELITY_USAGE = `qwen3-bench fidelity RESULTS_DIR FIDELITY_JSONL

Prints the fidelity table (markdown): each runner's median decode tok/s in a results folder (its
gpuN/ lane folders included) beside the same model, dtype and prompt length measured by the
framework's own tool (the fidelity.jsonl of scripts/gpu-fidelity.py), with the ratio ours / tool.`;

/** The folder itself and its lane folders (gpu0/, gpu1/, ...), as the report reads a lanes run. */
function resultsPaths(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [dir];
  const lanes = readdirSync(dir).filter((n) => /^gpu\d+$/.test(n)).sort().map((n) => join(dir, n));
  return [dir, ...lanes];
}

export function fidelityCommand(argv: string[]): void {
  if (argv.length !== 2) throw new Error(`give a results folder and a fidelity.jsonl\n\n${FIDELITY_USAGE}`);
  const [resultsDir, jsonl] = argv;
  const records = readFidelityJsonl(jsonl);
  const model = loadResults(resultsPaths(resultsDir));
  process.stdout.write(fidelityMarkdown(fidelityRows(runnerCases(model), records), records));
}
