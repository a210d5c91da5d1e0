import { parseArgs } from "node:util";
import { loadResults } from "../report/summary.ts";
import { computeAgreement, verifyText } from "../report/verify.ts";

export const VERIFY_USAGE = `qwen3-bench verify FILE... [--reference FRAMEWORK]

Prints each framework's greedy-token agreement with the reference framework, per prompt (results
files or folders). Exits 1 when any agreement check recorded by the bench failed.`;

export function verifyCommand(argv: string[]): void {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { reference: { type: "string" } } });
  if (positionals.length === 0) throw new Error(`give at least one results file or folder\n\n${VERIFY_USAGE}`);
  const model = loadResults(positionals);
  process.stdout.write(verifyText(model, values.reference));
  const report = computeAgreement(model, values.reference);
  const failed = [
    ...report.rows.filter((r) => r.passed === false).map((r) => `${r.label}/${r.promptId}`),
    ...report.recordsOnly.filter((r) => !r.record.passed).map((r) => `${r.label}/${r.record.prompt_id}`),
  ];
  // main() turns a thrown error into exit status 1 with the message on stderr.
  if (failed.length) throw new Error(`agreement check failed for ${failed.join(", ")}`);
}
