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
import { soakCommand, SOAK_USAGE } from "./soak.ts";
import { tokenizeCommand } from "./tokenize.ts";

/** A command: its name, its line in the usage's list (in COMMANDS' order), what runs it, and its own usage text if any. */
type Command = { name: string; summary: string; run: (argv: string[]) => void | Promise<void>; usage?: string };

const COMMANDS: Command[] = [
  { name: "synth", summary: "write a synthetic Qwen3 model folder", run: synthCommand, usage: SYNTH_USAGE },
  { name: "doctor", summary: "list every known runner and whether it is available here", run: doctorCommand },
  { name: "setup", summary: "generate the model and install or build the runners this machine can run (--tests: the test models)", run: setupCommand },
  { name: "tokenize", summary: "print the prompt token ids the benchmark sends to runners [PROMPTS_FILE]", run: tokenizeCommand },
  { name: "report", summary: "rebuild report.md, report.html, verify.txt and charts from results folders", run: reportCommand, usage: REPORT_USAGE },
  { name: "verify", summary: "print greedy-token agreement of results files with the reference", run: verifyCommand, usage: VERIFY_USAGE },
  { name: "compare", summary: "compare decode speed of two runs; exit 1 on a significant slowdown", run: compareCommand, usage: COMPARE_USAGE },
  { name: "ab", summary: "pair two labels of one framework in one run (A/B); exit 1 on a significant slowdown", run: abCommand, usage: AB_USAGE },
  { name: "fidelity", summary: "our runners' decode speed beside each framework's own tool (--run: measure the tools)", run: fidelityCommand, usage: FIDELITY_USAGE },
  { name: "soak", summary: "one runner process, N identical requests: do its tokens and memory stay the same?", run: soakCommand, usage: SOAK_USAGE },
];

const USAGE = [
  "qwen3-bench <command> [options]\n\ncommands:",
  ...COMMANDS.map((c) => `  ${c.name.padEnd(8)}  ${c.summary}`),
  ...COMMANDS.flatMap((c) => (c.usage ? ["", c.usage] : [])),
].join("\n");

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`qwen3-bench: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 2;
  }
  try {
    await command.run(rest);
    return 0;
  } catch (e) {
    console.error(`qwen3-bench ${name}: ${(e as Error).message}`);
    return e instanceof ExitCodeError ? e.exitCode : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
