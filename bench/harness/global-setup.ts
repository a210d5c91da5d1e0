import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { collectHwInfo } from "./host/hw-info.ts";
import { makePlan, runDirName, type BenchPlan } from "./plan.ts";
import { ensureBenchModel, ensureTestModels, setupFrameworks } from "./prepare.ts";
import { HW_INFO_FILE } from "./schema/hw-info.ts";
import { RUN_STARTED_ENV } from "./progress.ts";
import { LANE_ENV, planLanes, runLanes, startGpuLog } from "./lanes.ts";
import { listNvidiaGpus } from "./host/nvidia.ts";
import { platformFacts } from "./host/platform.ts";
import { harnessVariable, readSettings, setHarnessVariable, type Settings } from "./settings.ts";
import { tryOutput } from "./host/command.ts";
import { resolveVariants } from "./variants.ts";

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
  if (!harnessVariable(RUN_STARTED_ENV)) setHarnessVariable(RUN_STARTED_ENV, String(Date.now()));
  const settings = readSettings();
  if (!project.config.benchmark.enabled) {
    // `vitest bench` also starts the plain test project beside the bench one: it has nothing to
    // run then, and setting up every framework there would install runners nobody asked for.
    if (project.vitest.projects.some((p) => p.config.benchmark.enabled)) return;
    ensureTestModels();
    await setupFrameworks({ ...settings, frameworks: null });
    return;
  }
  if (settings.lanes && !harnessVariable(LANE_ENV)) return runLanesSetup(project, settings, settings.lanes);
  const model = await ensureBenchModel(settings);
  await setupFrameworks(settings);
  const runDir = join(settings.resultsRoot, runDirName());
  mkdirSync(runDir, { recursive: true });
  setHarnessVariable(RUN_DIR_ENV, runDir);
  writeFileSync(join(runDir, HW_INFO_FILE), JSON.stringify(await collectHwInfo(), null, 1) + "\n");
  const plan = await makePlan(settings, model, runDir);
  process.stderr.write(
    `qwen3-bench: profile ${plan.profileName} (${plan.profile.max_new_tokens} new tokens, ${plan.profile.warmup_iterations} warm-up + ${plan.profile.timed_iterations} timed${plan.profile.budget ? `, at most ${plan.profile.budget.secs} s of requests per runner: BENCH_BUDGET_SECS=0 lifts it` : ""}), dtype ${plan.dtype}, model ${model.dir}${model.manifest ? " (synthetic weights)" : ""}\n` +
      plan.frameworks.map((f) => `  ${f.available ? "run " : "skip"} ${f.name}: ${f.reason}`).join("\n") +
      `\n  results: ${runDir}\n`,
  );
  project.provide("plan", plan);
}

/**
 * BENCH_LANES: the model and every lane's runners are set up once (they share folders), then each
 * lane runs as a child `vitest bench` on its GPU and its share of the cores, all at once, under this
 * run's folder (gpu0/, gpu1/, ...). The bench file then has one case per lane (its exit status), and
 * the reporter writes one report over the lanes.
 */
async function runLanesSetup(project: TestProject, settings: Settings, spec: string): Promise<void> {
  const model = await ensureBenchModel(settings);
  const runDir = join(settings.resultsRoot, runDirName());
  mkdirSync(runDir, { recursive: true });
  setHarnessVariable(RUN_DIR_ENV, runDir);
  const lanes = planLanes({
    spec,
    gpuCount: (await platformFacts()).nvidiaGpu ? (await listNvidiaGpus()).length : null,
    cores: cpus().length,
    taskset: (await tryOutput("taskset", ["--version"])) !== null,
    runDir,
    validateLabels: (labels) => void resolveVariants(labels),
  });
  await setupFrameworks({ ...settings, frameworks: [...new Set(lanes.flatMap((l) => l.frameworks))] });
  writeFileSync(join(runDir, HW_INFO_FILE), JSON.stringify(await collectHwInfo(), null, 1) + "\n");
  const stopGpuLog = startGpuLog(runDir);
  const argv = process.argv.slice(1);
  const outcomes = await runLanes(lanes, runDir, [process.execPath, ...argv, ...(argv.includes("--run") ? [] : ["--run"])]).finally(stopGpuLog);
  const plan = await makePlan({ ...settings, frameworks: [] }, model, runDir);
  project.provide("plan", { ...plan, lanes: outcomes });
}
