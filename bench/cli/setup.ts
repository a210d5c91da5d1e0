import { parseArgs } from "node:util";
import { ensureBenchModel, ensureTestModels, setupFrameworks } from "../harness/prepare.ts";
import { readSettings } from "../harness/settings.ts";

/** `qwen3-bench setup [--tests]`: generate models, install or build the runners this machine can run. */
export async function setupCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { tests: { type: "boolean", default: false } } });
  const settings = readSettings();
  if (values.tests) ensureTestModels();
  else await ensureBenchModel(settings);
  await setupFrameworks(settings);
}
