#!/usr/bin/env node
// qwen3-bench command line. Runs on Node >= 22.12 (the project pins Node 24 as a devDependency).
import { doctorCommand } from "./doctor.ts";
import { setupCommand } from "./setup.ts";
import { compareCommand, COMPARE_USAGE } from "./compare.ts";
import { abCommand, AB_USAGE } from "./ab.ts";
import { ExitCodeError } from "./exit-code-error.ts";
import { reportCommand, REPORT_USAGE } from "./report.ts";
import { synthCommand, SYNTH_USAGE } from "./synth.ts";
import { verifyCommand, VERIFY_USAGE } from "./verify.ts";
import { fidelityCommand, FIDELITY_USAGE } from "./fidelity.ts";
import { tokenizeCommand } from "./tokenize.ts";

const USAGE = `qwen3-bench <command> [options]

commands:
  synth     write a synthetic Qwen3 model folder
  doctor    list every known runner and whether it is available here
  setup     generate the model and install or build the runners this machine can run (--tests: the test models)
  tokenize  print the prompt token ids the benchmark sends to runners [PROMPTS_FILE]
  report    rebuild report.md, report.html, verify.txt and charts from results folders
  verify    print greedy-token agreement of results files with the reference
  compare   compare decode speed of two runs; exit 1 on a significant slowdown
  ab        pair two labels of one framework in one run (A/B); exit 1 on a significant slowdown
  fidelity  our runners' decode speed beside each framework's own tool (--run: measure the tools)

${SYNTH_USAGE}

${REPORT_USAGE}

${VERIFY_USAGE}

${COMPARE_USAGE}

${AB_USAGE}

${FIDELITY_USAGE}`;

const commands: Record<string, (argv: string[]) => void | Promise<void>> = {
  synth: synthCommand,
  report: reportCommand,
  verify: verifyCommand,
  compare: compareCommand,
  ab: abCommand,
  fidelity: fidelityCommand,
  doctor: doctorCommand,
  setup: setupCommand,
  tokenize: tokenizeCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`qwen3-bench: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 2;
  }
  try {
    await command(rest);
    return 0;
  } catch (e) {
    console.error(`qwen3-bench ${name}: ${(e as Error).message}`);
    return e instanceof ExitCodeError ? e.exitCode : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
