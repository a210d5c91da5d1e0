import { parseArgs } from "node:util";
import type { LaunchSpec } from "../harness/runner-process.ts";
import { readSettings } from "../harness/settings.ts";
import { runSoak, SOAK_FLAGS, soakOptions, writeSoakFile } from "../harness/soak.ts";
import { soakText } from "../report/soak.ts";

export const SOAK_USAGE = `qwen3-bench soak --framework LABEL --requests N [--new-tokens 16] [--prompt-id short] [--max-growth-mib 64] [--out FILE]

Starts ONE runner process for LABEL as the benchmark does (its model: MODEL_PATH; its dtype:
BENCH_DTYPE) and sends it N greedy requests for the same prompt's token ids, K new tokens each, EOS
ignored. Checks that every request's tokens equal the first's, and samples the runner's memory at
the first request, the last and every tenth of the way between (measured from outside: NVML on
NVIDIA GPUs, RSS on CPUs; and as the runner reports it). Writes FILE (default
results/soak-<timestamp>/soak.json; the runner's results file beside it) and prints a summary.
Exits 1 when tokens changed, the runner failed, or a memory figure grew by more than
--max-growth-mib between the first and the last sample (docs/soak.md).`;

/** `launch`: tests pass a fake runner's; the command line never does. */
export async function soakCommand(argv: string[], launch?: () => Promise<LaunchSpec>): Promise<void> {
  const { values } = parseArgs({ args: argv, options: SOAK_FLAGS });
  const settings = readSettings();
  const options = soakOptions(values, settings, ["qwen3-bench", "soak", ...argv]);
  const file = await runSoak(settings, options, launch);
  writeSoakFile(options.outFile, file);
  process.stdout.write(soakText(file));
  console.log(`written: ${options.outFile}`);
  // main() turns a thrown error into exit status 1 with the message on stderr.
  if (!file.passed) throw new Error(`soak failed: ${file.failures.join("; ")}`);
}
