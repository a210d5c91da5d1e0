import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { collectHwInfo } from "./hw-info.ts";
import { makePlan, runDirName, type BenchPlan } from "./plan.ts";
import { ensureBenchModel, ensureTestModels, setupFrameworks } from "./prepare.ts";
import { HW_INFO_FILE } from "./schema/hw-info.ts";
import { RUN_STARTED_ENV } from "./progress.ts";
import { readSettings } from "./settings.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The benchmark plan (bench project only). */
    plan: BenchPlan;
  }
}

/** Environment variable through which the reporter learns the run's results folder. */
export const RUN_DIR_ENV = "QWEN3_BENCH_RUN_DIR";

/**
 * Vitest global setup. Idempotent: it generates missing models, installs or builds the runners this
 * machine can run, and, for `vitest bench`, decides the plan (profile, frameworks, prompt token ids)
 * and creates results/<timestamp>/.
 */
export default async function setup(project: TestProject): Promise<void> {
  process.env[RUN_STARTED_ENV] ??= String(Date.now());
  const settings = readSettings();
  if (!project.config.benchmark.enabled) {
    // `vitest bench` also starts the plain test project beside the bench one: it has nothing to
    // run then, and setting up every framework there would install runners nobody asked for.
    if (project.vitest.projects.some((p) => p.config.benchmark.enabled)) return;
    ensureTestModels();
    await setupFrameworks({ ...settings, frameworks: null });
    return;
  }
  const model = ensureBenchModel(settings);
  await setupFrameworks(settings);
  const runDir = join(settings.resultsRoot, runDirName());
  mkdirSync(runDir, { recursive: true });
  process.env[RUN_DIR_ENV] = runDir;
  writeFileSync(join(runDir, HW_INFO_FILE), JSON.stringify(await collectHwInfo(), null, 1) + "\n");
  const plan = await makePlan(settings, model, runDir);
  process.stderr.write(
    `qwen3-bench: profile ${plan.profileName} (${plan.profile.max_new_tokens} new tokens, ${plan.profile.warmup_iterations} warm-up + ${plan.profile.timed_iterations} timed), dtype ${plan.dtype}, model ${model.dir}${model.manifest ? " (synthetic weights)" : ""}\n` +
      plan.frameworks.map((f) => `  ${f.available ? "run " : "skip"} ${f.name}: ${f.reason}`).join("\n") +
      `\n  results: ${runDir}\n`,
  );
  project.provide("plan", plan);
}
