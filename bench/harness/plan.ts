import { hostname, cpus, totalmem, type as osType, release } from "node:os";
import { FRAMEWORKS, frameworkByName, type Availability, type Framework } from "./frameworks.ts";
import { resolveProfile } from "./budget.ts";
import type { LaneOutcome } from "./lanes.ts";
import { hasAccelerator, platformFacts } from "./platform.ts";
import { loadPromptsFile } from "./prompts-file.ts";
import { collectProvenance } from "./provenance.ts";
import { type AgreementConfig, type Profile, type Prompt } from "./schema/prompts.ts";
import type { Dtype } from "./schema/model-config.ts";
import type { ModelInfo, Provenance, ResultsFile } from "./schema/results.ts";
import type { CheckedModel } from "./model/validate.ts";
import type { Settings } from "./settings.ts";
import { PromptTokenizer, type TokenizedPrompt } from "./tokenize.ts";

/** Everything a benchmark run needs, decided once in the main process and handed to the bench file. */
export interface BenchPlan {
  runDir: string;
  /** The checked model, as results files record it (weight bytes for the requested dtype). */
  model: ModelInfo;
  dtype: Dtype;
  profileName: "quick" | "full";
  profile: Profile;
  agreement: AgreementConfig;
  requestTimeoutMs: number;
  startupTimeoutMs: number;
  reference: string;
  /** Sample GPU power (energy per token) during GPU runners' requests. */
  gpuPower: boolean;
  frameworks: (Availability & { name: string })[];
  prompts: TokenizedPrompt[];
  host: ResultsFile["host"];
  /** Harness commit, lockfiles, command line and knobs, collected in the main process (absent in hand-made test plans). */
  provenance?: Provenance;
  /** BENCH_PROFILER: profilers whose switches the matching runners get (bench/harness/profiler.ts); absent or empty for none. */
  profilers?: string[];
  /** BENCH_LANES: how each lane's child run ended (the lanes ran during the global setup); absent for one run. */
  lanes?: LaneOutcome[];
}

/** Frameworks in run order: the ones asked for (or all known), the reference first. */
export function selectFrameworks(settings: Settings): Framework[] {
  const chosen = settings.frameworks ? settings.frameworks.map(frameworkByName) : FRAMEWORKS;
  return [...chosen].sort((a, b) => Number(b.name === settings.reference) - Number(a.name === settings.reference));
}

export async function makePlan(settings: Settings, model: CheckedModel, runDir: string, promptsFile = settings.promptsFile): Promise<BenchPlan> {
  const loaded = loadPromptsFile(promptsFile);
  if (loaded.ignoredKeys.length) process.stderr.write(`qwen3-bench: ${promptsFile}: ignored, no counterpart here: ${loaded.ignoredKeys.join(", ")}\n`);
  const prompts = loaded.prompts;
  const facts = await platformFacts();
  const profileName = settings.profile ?? (hasAccelerator(facts) ? "full" : "quick");
  const tokenizer = new PromptTokenizer(model.dir);
  const frameworks = [];
  for (const f of selectFrameworks(settings)) frameworks.push({ name: f.name, ...(await f.probe()) });
  return {
    runDir,
    model: model.info(settings.dtype),
    dtype: settings.dtype,
    profileName,
    profile: resolveProfile(prompts.config.profiles[profileName], settings.profileOverrides, settings.budgetSecs),
    agreement: prompts.config.agreement,
    requestTimeoutMs: prompts.config.request_timeout_secs * 1000,
    startupTimeoutMs: prompts.config.startup_timeout_secs * 1000,
    reference: settings.reference,
    gpuPower: settings.gpuPower,
    profilers: settings.profilers ?? [],
    frameworks,
    prompts: selectPrompts(prompts.prompts, settings.promptIds).map((p) => tokenizer.tokenize(p)),
    host: {
      hostname: hostname(),
      os: `${osType()} ${release()} (${process.platform}/${process.arch})`,
      cpu: cpus()[0]?.model ?? "unknown",
      cpu_cores: cpus().length,
      memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    },
    provenance: collectProvenance(),
  };
}

function selectPrompts(prompts: Prompt[], ids: string[] | null): Prompt[] {
  if (!ids) return prompts;
  for (const id of ids) {
    if (!prompts.some((p) => p.id === id)) throw new Error(`BENCH_PROMPT_IDS: unknown prompt ${JSON.stringify(id)} (known: ${prompts.map((p) => p.id).join(", ")})`);
  }
  return prompts.filter((p) => ids.includes(p.id));
}

/** results/<timestamp>: sortable, filesystem-safe. */
export const runDirName = (date = new Date()): string => date.toISOString().replace(/[:]/g, "-").replace(/\.\d+Z$/, "Z");
