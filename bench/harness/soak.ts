// `qwen3-bench soak` (issue 25): ONE runner process, started by the benchmark's own runner slot on
// the benchmark's model, prompt token ids and dtype, serves the same greedy request N times. Every
// request's tokens must equal the first's, and the runner's memory (measured from outside by the
// slot's sampler, and as the runner reports it) must not grow by more than a limit between the
// first and the last sampled request: what a long-running server needs and a short benchmark never sees.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { firstDivergence } from "./agreement.ts";
import { integerFlag } from "./command-flags.ts";
import { runRecord } from "./measure.ts";
import { frameworkMemoryMetric } from "./memory/framework-metric.ts";
import { modelInfoFor } from "./model/validate.ts";
import { makePlan, runDirName, type BenchPlan } from "./plan.ts";
import { ensureBenchModel } from "./prepare.ts";
import { printProgress } from "./progress.ts";
import { loadPromptsFile, selectPrompts } from "./prompts-file.ts";
import { RunnerError, type LaunchSpec, type RunnerProcess } from "./runner-process.ts";
import { RunnerSlot } from "./runner-slot.ts";
import { SoakFile, type SoakMemory, type SoakSample, type TokenDifference } from "./schema/soak.ts";
import type { Settings } from "./settings.ts";
import { probeVariant, resolveVariant } from "./variants.ts";
import { harnessVersion } from "./version.ts";

/** `qwen3-bench soak`'s flags (parseArgs options) and their defaults. */
export const SOAK_FLAGS = {
  framework: { type: "string" },
  requests: { type: "string" },
  "new-tokens": { type: "string", default: "16" },
  "prompt-id": { type: "string", default: "short" },
  "max-growth-mib": { type: "string", default: "64" },
  out: { type: "string" },
} as const;

export type SoakFlags = { [K in keyof typeof SOAK_FLAGS]?: string };

export interface SoakOptions {
  /** Framework label, runner flags included (`burn-cuda[kernels=custom]`). */
  label: string;
  requests: number;
  /** New tokens per request, ≥ 2 (decode speed needs two tokens). */
  newTokens: number;
  promptId: string;
  /** Largest growth of any memory series from the first to the last sample, MiB. */
  maxGrowthMib: number;
  /** The soak file; the runner's results file is written beside it. */
  outFile: string;
  /** The command line, recorded in the soak file. */
  command: string[];
}

/** The soak's options from its flags (absent ones take SOAK_FLAGS' defaults), each checked with an error naming its flag. */
export function soakOptions(given: SoakFlags, settings: Settings, command: string[]): SoakOptions {
  const defaults = Object.fromEntries(Object.entries(SOAK_FLAGS).flatMap(([name, flag]) => ("default" in flag ? [[name, flag.default]] : [])));
  const flags: SoakFlags = { ...defaults, ...given };
  if (!flags.framework) throw new Error("--framework LABEL is required");
  const requests = integerFlag("requests", flags.requests, 1);
  const newTokens = integerFlag("new-tokens", flags["new-tokens"], 2);
  const maxGrowthMib = Number(flags["max-growth-mib"]);
  if (!(maxGrowthMib >= 0)) throw new Error(`--max-growth-mib: expected a number of MiB ≥ 0, got ${JSON.stringify(flags["max-growth-mib"])}`);
  return {
    label: flags.framework,
    requests,
    newTokens,
    promptId: flags["prompt-id"]!,
    maxGrowthMib,
    outFile: resolve(flags.out ?? join(settings.resultsRoot, `soak-${runDirName()}`, "soak.json")),
    command,
  };
}

/** Pure: the requests whose memory is sampled: the first, the last, and every tenth of the way between (at most 11). */
export function sampledRequests(requests: number): number[] {
  const step = Math.max(1, Math.ceil((requests - 1) / 10));
  const picked = new Set<number>([0, requests - 1]);
  for (let i = step; i < requests - 1; i += step) picked.add(i);
  return [...picked].sort((a, b) => a - b);
}

/** Pure: the first position where `tokens` differ from `reference` (a length difference counts), or null. */
export function firstDifference(reference: number[], tokens: number[]): Omit<TokenDifference, "request"> | null {
  const position = firstDivergence(reference, tokens);
  return position === null ? null : { position, expected: reference[position] ?? null, got: tokens[position] ?? null };
}

/** Pure: each memory figure the samples carry, from the first sample that has it to the last. */
export function memorySeries(samples: SoakSample[]): SoakMemory[] {
  const figures: Array<[SoakMemory["series"], (s: SoakSample) => number | null | undefined, string]> = [
    ["process", (s) => s.process_memory_mb, samples.find((s) => s.process_memory_source)?.process_memory_source ?? ""],
    ["runner_peak_rss", (s) => s.peak_rss_mb, "peak_rss_bytes"],
    ["runner_peak_device", (s) => s.peak_device_mb, "peak_device_bytes"],
  ];
  return figures.flatMap(([series, figure, source]) => {
    const values = samples.map(figure).filter((v): v is number => v !== null && v !== undefined);
    if (values.length === 0) return [];
    const [first, last] = [values[0], values[values.length - 1]];
    return [{ series, source, first_mib: first, last_mib: last, max_mib: Math.max(...values), growth_mib: last - first }];
  });
}

/** Pure: why a soak failed, in words (empty: it passed). */
export function soakFailures(file: Omit<SoakFile, "failures" | "passed">): string[] {
  const failures: string[] = [];
  if (file.runner_error) failures.push(`the runner failed after ${file.requests_served} of ${file.requests} requests: ${file.runner_error}`);
  const d = file.first_difference;
  if (d) failures.push(`tokens changed: request ${d.request} differs from request 0 at position ${d.position} (${d.expected ?? "none"} → ${d.got ?? "none"}); ${file.differing_requests} of ${file.requests_served} requests differ`);
  for (const m of file.memory) {
    if (m.growth_mib > file.max_growth_mib) failures.push(`memory grew: ${m.series} (${m.source}) ${m.first_mib.toFixed(1)} → ${m.last_mib.toFixed(1)} MiB, +${m.growth_mib.toFixed(1)} MiB (limit ${file.max_growth_mib} MiB)`);
  }
  return failures;
}

/** The benchmark's plan for one prompt and K new tokens (model, dtype, prompt token ids, timeouts), its runner's results file beside the soak file. */
async function soakPlan(settings: Settings, options: SoakOptions): Promise<BenchPlan> {
  // Checked before the model is made, so a mistyped id fails at once.
  selectPrompts(settings.promptsFile, loadPromptsFile(settings.promptsFile).prompts.prompts, [options.promptId], "--prompt-id");
  const model = await ensureBenchModel(settings);
  const overrides = { frameworks: [], promptIds: [options.promptId], depths: null, profileOverrides: { max_new_tokens: options.newTokens }, gpuPower: false, runsPerProcess: null };
  return makePlan({ ...settings, ...overrides }, model, dirname(options.outFile));
}

/** What the requests showed, gathered request by request. */
interface Observed {
  /** Decode tok/s of every served request, in order. */
  decodeTps: number[];
  /** The first request's tokens. */
  reference: number[];
  difference: TokenDifference | null;
  differing: number;
  samples: SoakSample[];
  /** The failure that ended the soak early, or null. */
  runnerError: string | null;
}

/** Sends the requests to the one runner process, comparing tokens and sampling memory; a runner failure ends them (the slot would restart it). */
async function serveRequests(slot: RunnerSlot, runner: RunnerProcess, plan: BenchPlan, options: SoakOptions): Promise<Observed> {
  const prompt = plan.prompts[0];
  const sampled = new Set(sampledRequests(options.requests));
  const seen: Observed = { decodeTps: [], reference: [], difference: null, differing: 0, samples: [], runnerError: null };
  for (let request = 0; request < options.requests; request++) {
    const startMs = sampled.has(request) ? await slot.beginRequest() : null;
    const startedAt = new Date();
    try {
      const { reply, roundTripNs } = await runner.generate({ prompt_token_ids: prompt.promptTokenIds, max_new_tokens: options.newTokens, ignore_eos: true }, plan.requestTimeoutMs);
      const record = runRecord({ promptId: prompt.id, iteration: request, promptTokenIds: prompt.promptTokenIds, maxNewTokens: options.newTokens, reply, roundTripNs, startedAt });
      seen.decodeTps.push(record.decode_tps);
      if (request === 0) seen.reference = record.token_ids;
      const differs = firstDifference(seen.reference, record.token_ids);
      if (differs) seen.differing++;
      if (differs && !seen.difference) seen.difference = { request, ...differs };
      if (startMs === null) continue;
      const { process_memory_mb, process_memory_source } = await slot.endRequest(startMs);
      const { started_at, ttft_secs, decode_tps, peak_rss_mb, peak_device_mb } = record;
      seen.samples.push({ request, started_at, ttft_secs, decode_tps, peak_rss_mb, peak_device_mb, process_memory_mb, process_memory_source });
      printProgress(`[${options.label} soak] request ${request + 1}/${options.requests}: ${decode_tps.toFixed(1)} tok/s decode, memory ${process_memory_mb?.toFixed(1) ?? "–"} MiB (${process_memory_source ?? "not measured"}), runner peak RSS ${peak_rss_mb.toFixed(1)} MiB${seen.differing ? `; ${seen.differing} request(s) with other tokens` : ""}`);
    } catch (e) {
      slot.noteFailure(e, prompt.id, request);
      slot.results?.addError({ prompt_id: prompt.id, iteration: request, kind: e instanceof RunnerError ? e.kind : "measurement", message: (e as Error).message });
      seen.runnerError = `request ${request}: ${(e as Error).message}`;
      break;
    }
  }
  return seen;
}

/**
 * Runs the soak and returns its file (not yet written). `launch` defaults to the label's registered
 * framework, checked available first; tests pass a fake runner's.
 */
export async function runSoak(settings: Settings, options: SoakOptions, launch?: () => Promise<LaunchSpec>): Promise<SoakFile> {
  if (!launch) {
    const availability = await probeVariant(resolveVariant(options.label));
    if (!availability.available) throw new Error(`${options.label} is not available here: ${availability.reason}`);
  }
  const plan = await soakPlan(settings, options);
  const slot = new RunnerSlot(plan, options.label, launch);
  const startedAt = new Date().toISOString();
  try {
    const runner = await slot.ensure();
    const seen = await serveRequests(slot, runner, plan, options);
    const { ready } = runner;
    const file = {
      harness_version: harnessVersion(plan.provenance?.harness.commit ?? null),
      command: options.command,
      framework: options.label,
      framework_version: ready.framework_version,
      backend: ready.backend,
      device: ready.device,
      precision: ready.dtype,
      device_memory_metric: frameworkMemoryMetric(ready.framework, ready.backend),
      model: modelInfoFor(plan.model, ready.dtype),
      results_file: basename(slot.results!.path),
      prompt_id: plan.prompts[0].id,
      prompt_token_ids: plan.prompts[0].promptTokenIds,
      requests: options.requests,
      requests_served: seen.decodeTps.length,
      new_tokens: options.newTokens,
      max_growth_mib: options.maxGrowthMib,
      started_at: startedAt,
      finished_at: new Date().toISOString(),
      reference_token_ids: seen.reference,
      tokens_identical: seen.difference === null,
      first_difference: seen.difference,
      differing_requests: seen.differing,
      decode_tps_first: seen.decodeTps[0] ?? null,
      decode_tps_last: seen.decodeTps.at(-1) ?? null,
      samples: seen.samples,
      memory: memorySeries(seen.samples),
      runner_error: seen.runnerError,
    };
    const failures = soakFailures(file);
    return SoakFile.parse({ ...file, failures, passed: failures.length === 0 });
  } finally {
    await slot.close();
  }
}

/** Writes the soak file (validated), creating its folder. */
export function writeSoakFile(path: string, file: SoakFile): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(SoakFile.parse(file), null, 1) + "\n");
}
