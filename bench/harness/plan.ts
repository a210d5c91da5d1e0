import { hostname, cpus, totalmem, type as osType, release } from "node:os";
import { join } from "node:path";
import { checkContextFits } from "./context-limit.ts";
import { depthPrompts } from "./depth.ts";
import { FRAMEWORKS, type Availability } from "./frameworks.ts";
import { hasSharedBase } from "./framework-label.ts";
import { expandByDtype, withoutDtype } from "./precision.ts";
import { plainVariant, probeVariant, resolveVariants, type Variant } from "./variants.ts";
import { resolveProfile } from "./budget.ts";
import type { LaneOutcome } from "./lanes.ts";
import { hasAccelerator, platformFacts } from "./host/platform.ts";
import { loadPromptsFile, selectPrompts } from "./prompts-file.ts";
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
  /** Interleaved: start every runner of a prompt's rotation at once (BENCH_PARALLEL_START); absent: one by one. */
  parallelStart?: boolean;
  /** Measure each runner's memory from outside it (memory/sampler.ts); absent: on. */
  memorySampling?: boolean;
  /** Timed runs per runner process (a fresh, re-warmed process after that many); absent or null: one process for all. */
  runsPerProcess?: number | null;
  /** Framework labels in run order (`burn-cpu`, `burn-cpu[attention=explicit]`, `burn-cpu@head`), each with its availability. */
  frameworks: (Availability & { name: string })[];
  /** Rotate frameworks request by request within each prompt (bench/harness/schedule.ts) rather than one framework's cases at a time. */
  interleave: boolean;
  prompts: TokenizedPrompt[];
  host: ResultsFile["host"];
  /** Harness commit, lockfiles, command line and knobs, collected in the main process (absent in hand-made test plans). */
  provenance?: Provenance;
  /** BENCH_PROFILER: profilers whose switches the matching runners get (bench/harness/profiler.ts); absent or empty for none. */
  profilers?: string[];
  /** BENCH_LANES: how each lane's child run ended (the lanes ran during the global setup); absent for one run. */
  lanes?: LaneOutcome[];
}

/** Framework variants in run order: the labels asked for (or every known framework), the reference first. */
export function selectFrameworks(settings: Settings): Variant[] {
  const labels = settings.frameworks ?? FRAMEWORKS.map((f) => f.name);
  const dtypes = settings.dtypes ?? [settings.dtype];
  const chosen = settings.frameworks || dtypes.length > 1 ? resolveVariants(expandByDtype(labels, dtypes)) : FRAMEWORKS.map(plainVariant);
  // The reference first; over several dtypes, the reference framework at each (torch[dtype=f16], torch[dtype=bf16]).
  const isReference = (v: Variant) => Number(withoutDtype(v.label) === settings.reference);
  return [...chosen].sort((a, b) => isReference(b) - isReference(a));
}

/**
 * Interleaving, unless BENCH_INTERLEAVE says: on where an accelerator runs the runners (host shifts
 * move whole runs there, and it spreads them over every runner) or when two labels vary one
 * framework (an A/B run, whose pairs should see the same drift); off on a CPU-only machine, where
 * keeping every runner warm at once only adds memory and the runners' threads contend anyway.
 */
export function decideInterleave(settings: Settings, accelerator: boolean, labels: string[]): boolean {
  return settings.interleave ?? (accelerator || hasSharedBase(labels));
}

/**
 * Whether requests rotate across frameworks: interleaving with more than one framework available
 * (CaseScheduler then rotates their sessions). The cool-down comes once per round and
 * BENCH_PARALLEL_START applies only then; results files record both from this.
 */
export const rotatesFrameworks = (plan: Pick<BenchPlan, "interleave" | "frameworks">): boolean =>
  plan.interleave && plan.frameworks.filter((f) => f.available).length > 1;

export async function makePlan(settings: Settings, model: CheckedModel, runDir: string, promptsFile = settings.promptsFile): Promise<BenchPlan> {
  const loaded = loadPromptsFile(promptsFile);
  if (loaded.ignoredKeys.length) process.stderr.write(`qwen3-bench: ${promptsFile}: ignored, no counterpart here: ${loaded.ignoredKeys.join(", ")}\n`);
  const prompts = loaded.prompts;
  const facts = await platformFacts();
  const profileName = settings.profile ?? (hasAccelerator(facts) ? "full" : "quick");
  const tokenizer = new PromptTokenizer(model.dir);
  const profile = resolveProfile(prompts.config.profiles[profileName], settings.profileOverrides, settings.budgetSecs);
  const planned = planPrompts(settings, selectPrompts(promptsFile, prompts.prompts, settings.promptIds, "BENCH_PROMPT_IDS"), tokenizer);
  checkContextFits(
    planned.map((p) => ({ id: p.id, promptTokens: p.promptTokenIds.length, source: p.depth === undefined ? promptsFile : `BENCH_DEPTHS=${settings.depths!.join(",")}` })),
    {
      maxPositions: model.config.max_position_embeddings,
      configFile: join(model.dir, "config.json"),
      maxNewTokens: profile.max_new_tokens,
      maxNewTokensSource: settings.profileOverrides.max_new_tokens === undefined ? `config.profiles.${profileName}.max_new_tokens of the prompts file` : "BENCH_MAX_NEW_TOKENS",
    },
  );
  const frameworks = [];
  for (const v of selectFrameworks(settings)) frameworks.push({ name: v.label, ...(await probeVariant(v)) });
  return {
    runDir,
    model: model.info(settings.dtype),
    dtype: settings.dtype,
    profileName,
    profile,
    agreement: prompts.config.agreement,
    requestTimeoutMs: prompts.config.request_timeout_secs * 1000,
    startupTimeoutMs: prompts.config.startup_timeout_secs * 1000,
    reference: settings.reference,
    gpuPower: settings.gpuPower,
    memorySampling: settings.memorySampling ?? true,
    parallelStart: settings.parallelStart ?? false,
    runsPerProcess: settings.runsPerProcess ?? null,
    profilers: settings.profilers ?? [],
    frameworks,
    interleave: decideInterleave(settings, hasAccelerator(facts), frameworks.map((f) => f.name)),
    prompts: planned,
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

/**
 * The cases' prompts: the selected prompts through the chat template, or with BENCH_DEPTHS the
 * first selected prompt at each depth (harness/depth.ts; BENCH_PROMPT_IDS picks the base).
 */
function planPrompts(settings: Settings, selected: Prompt[], tokenizer: PromptTokenizer): TokenizedPrompt[] {
  if (!settings.depths) return selected.map((p) => tokenizer.tokenize(p));
  return depthPrompts(tokenizer, selected[0], settings.depths);
}

/** results/<timestamp>: sortable, filesystem-safe. */
export const runDirName = (date = new Date()): string => date.toISOString().replace(/[:]/g, "-").replace(/\.\d+Z$/, "Z");
