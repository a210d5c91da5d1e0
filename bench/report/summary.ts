import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseJsonFile } from "../harness/schema/parse.ts";
import { ResultsFile, StartupFailureFile, type RunRecord } from "../harness/schema/results.ts";
import { bootstrapMedianCi, type ConfidenceInterval } from "../stats/bootstrap.ts";
import { mean } from "../stats/mean.ts";
import { median } from "../stats/median.ts";
import { quantile } from "../stats/quantile.ts";
import { precisionGroup } from "./precision-group.ts";
import { knownBandwidth } from "../harness/host/hw-bandwidth.ts";
import { HW_INFO_FILE, HwInfo } from "../harness/schema/hw-info.ts";

export const RESULTS_SUFFIX = "_results.json";
export const STARTUP_ERROR_SUFFIX = "_error.json";

/** One results file as loaded. */
export interface LoadedResults {
  /** Path of the file. */
  file: string;
  /** Display name, unique within the model: the framework, or "framework (folder)" when several folders hold one framework. */
  label: string;
  results: ResultsFile;
}

/** Where a bandwidth figure came from. */
export interface Bandwidth {
  /** Peak memory bandwidth, bytes per second. */
  bytesPerS: number;
  /** "hw_info.json (known-chip table)" or "device name (known-chip table)". */
  source: string;
}

/** Summary of one (framework, prompt) over its timed runs. */
export interface PromptSummary {
  label: string;
  framework: string;
  backend: string;
  device: string;
  precision: string;
  /** The precision the numbers belong to (report/precision.ts): the dtype, or a quantized copy's bits and scheme. */
  precisionGroup: string;
  fusion: boolean | null;
  autotune: boolean | null;
  promptId: string;
  promptTokens: number;
  /** KV-cache depth of a depth case (BENCH_DEPTHS), tokens; null for a plain prompt. */
  depth: number | null;
  /** Timed runs, in iteration order. */
  runs: RunRecord[];
  /** New tokens per run (median over runs). */
  tokensGenerated: number;
  /** Decode speed per timed run, tok/s, in iteration order. */
  decodeTpsSamples: number[];
  /** Median decode speed, tok/s, with its 95 % percentile-bootstrap interval (10,000 resamples, fixed seed). */
  decodeTps: ConfidenceInterval;
  /** Median time to first token, milliseconds. */
  ttftMs: number;
  /** Median prefill speed, prompt tokens per second. */
  prefillTps: number;
  /** Per-token decode latency quantiles over every decode step of every timed run (TTFT excluded), milliseconds. */
  stepLatencyMs: { p50: number; p90: number; p99: number; steps: number };
  /** Peak resident set size over the timed runs, MiB. */
  peakRssMb: number;
  /** Peak device memory over the timed runs as the framework itself reports it, MiB; null when it reports none. */
  peakDeviceMb: number | null;
  /** What peakDeviceMb counts (e.g. "allocated (torch.cuda.max_memory_allocated)"); null where unknown. */
  deviceMemoryMetric: string | null;
  /** Peak memory of the runner's processes over the timed runs, measured by the harness the same way for every runner, MiB; null where not measured. */
  processMemoryMb: number | null;
  /** How processMemoryMb was measured: nvml-process, nvml-device, phys-footprint or rss. */
  processMemorySource: string | null;
  /** Share of the memory-bandwidth ceiling: median decode tok/s × weight bytes / bandwidth (0..1); null when the bandwidth is unknown. */
  bandwidthShare: number | null;
  bandwidth: Bandwidth | null;
  /** Mean harness overhead per request (round trip minus the runner's own total), milliseconds. */
  harnessOverheadMs: number;
  /** Median energy per generated token, joules; null ("not measured") unless every timed run carries energy. */
  joulesPerToken: number | null;
}

/** Everything the report artefacts are built from. */
export interface ResultsModel {
  /** Folders (or files) the results came from. */
  sources: string[];
  files: LoadedResults[];
  startupFailures: StartupFailureFile[];
  /** hw_info.json of the first folder that has one; null when none. */
  hwInfo: HwInfo | null;
  /** Framework labels in a stable order (sorted), which also fixes each one's chart colour. */
  labels: string[];
  /** Prompt ids in the order they first appear. */
  promptIds: string[];
  summaries: PromptSummary[];
}

/** The bandwidth ceiling that applies to a framework's device: its GPU's, or the host's (Apple unified memory) for CPU backends. */
export function bandwidthFor(results: ResultsFile, hwInfo: HwInfo | null): Bandwidth | null {
  const onCpu = results.backend.toLowerCase() === "cpu";
  if (hwInfo) {
    const unifiedOrCpu = onCpu || /metal|mps|mlx/i.test(results.backend);
    if (unifiedOrCpu && hwInfo.memory_bandwidth_bytes_per_s !== null) {
      return { bytesPerS: hwInfo.memory_bandwidth_bytes_per_s, source: "hw_info.json (known-chip table)" };
    }
    if (!onCpu) {
      const device = results.device.toLowerCase();
      const known = hwInfo.gpus.filter((g) => g.bandwidth_bytes_per_s !== null);
      const named = known.find((g) => device.includes(g.name.toLowerCase()) || g.name.toLowerCase().includes(device));
      // A device named by its API rather than its chip ("wgpu DefaultDevice") runs on one of the
      // host's GPUs: their bandwidth, when there is one GPU or they all have the same.
      const alike = known.length > 0 && known.every((g) => g.bandwidth_bytes_per_s === known[0].bandwidth_bytes_per_s);
      const gpu = named ?? (alike ? known[0] : undefined);
      if (gpu) return { bytesPerS: gpu.bandwidth_bytes_per_s!, source: "hw_info.json (known-chip table)" };
    }
  }
  if (onCpu) return null;
  const fromName = knownBandwidth(results.device);
  return fromName === null ? null : { bytesPerS: fromName, source: "device name (known-chip table)" };
}

function summarise(loaded: LoadedResults, promptId: string, runs: RunRecord[], hwInfo: HwInfo | null): PromptSummary {
  const { results } = loaded;
  const decodeTpsSamples = runs.map((r) => r.decode_tps);
  const decodeTps = bootstrapMedianCi(decodeTpsSamples);
  const steps = runs.flatMap((r) => r.per_token_latencies_ms.slice(1));
  const stepQuantile = (p: number) => (steps.length ? quantile(steps, p) : Number.NaN);
  const bandwidth = bandwidthFor(results, hwInfo);
  // gpu_energy_joules is absent in results written before power sampling, null where not measured.
  const energies = runs.map((r) => r.gpu_energy_joules ?? null);
  const deviceMemory = runs.map((r) => r.peak_device_mb).filter((m): m is number => m !== null);
  const processMemory = runs.map((r) => r.process_memory_mb ?? null).filter((m): m is number => m !== null);
  return {
    label: loaded.label,
    framework: results.framework,
    backend: results.backend,
    device: results.device,
    precision: results.precision,
    precisionGroup: precisionGroup(results),
    fusion: results.fusion,
    autotune: results.autotune,
    promptId,
    promptTokens: runs[0].prompt_tokens,
    depth: runs[0].depth ?? null,
    runs,
    tokensGenerated: median(runs.map((r) => r.tokens_generated)),
    decodeTpsSamples,
    decodeTps,
    ttftMs: median(runs.map((r) => r.ttft_secs * 1000)),
    prefillTps: median(runs.map((r) => r.prefill_tps)),
    stepLatencyMs: { p50: stepQuantile(0.5), p90: stepQuantile(0.9), p99: stepQuantile(0.99), steps: steps.length },
    peakRssMb: Math.max(...runs.map((r) => r.peak_rss_mb)),
    peakDeviceMb: deviceMemory.length ? Math.max(...deviceMemory) : null,
    deviceMemoryMetric: results.device_memory_metric ?? null,
    processMemoryMb: processMemory.length ? Math.max(...processMemory) : null,
    processMemorySource: runs.find((r) => r.process_memory_source)?.process_memory_source ?? null,
    bandwidthShare: bandwidth ? (decodeTps.estimate * results.model.weight_bytes) / bandwidth.bytesPerS : null,
    bandwidth,
    harnessOverheadMs: mean(runs.map((r) => r.harness_overhead_ms)),
    joulesPerToken: energies.every((e) => e !== null) ? median(runs.map((r, i) => energies[i]! / Math.max(1, r.tokens_generated))) : null,
  };
}

/** Results files of a folder (`*_results.json`), sorted by name. */
export function resultsFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(RESULTS_SUFFIX))
    .sort()
    .map((name) => join(dir, name));
}

/** Builds the model from loaded files (the report's one entry point for data). */
export function buildModel(sources: string[], files: LoadedResults[], hwInfo: HwInfo | null, startupFailures: StartupFailureFile[] = []): ResultsModel {
  const labels = [...new Set(files.map((f) => f.label))].sort();
  const promptIds: string[] = [];
  for (const f of files) for (const r of f.results.runs) if (!promptIds.includes(r.prompt_id)) promptIds.push(r.prompt_id);
  const summaries: PromptSummary[] = [];
  for (const promptId of promptIds) {
    for (const label of labels) {
      const loaded = files.find((f) => f.label === label)!;
      const runs = loaded.results.runs.filter((r) => r.prompt_id === promptId).sort((a, b) => a.iteration - b.iteration);
      if (runs.length) summaries.push(summarise(loaded, promptId, runs, hwInfo));
    }
  }
  return { sources, files, startupFailures, hwInfo, labels, promptIds, summaries };
}

/**
 * Loads results from folders and/or single results files (several merge into one model) and validates
 * every file against the ResultsFile schema; a bad file is an InputFileError naming file and field.
 * When one framework appears in several folders, each copy is labelled "framework (folder)".
 */
export function loadResults(paths: string[]): ResultsModel {
  if (paths.length === 0) throw new Error("no results folders or files given");
  const entries: Array<{ file: string; results: ResultsFile }> = [];
  const failures: StartupFailureFile[] = [];
  let hwInfo: HwInfo | null = null;
  for (const path of paths.map((p) => resolve(p))) {
    if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
    const isDir = statSync(path).isDirectory();
    const dir = isDir ? path : dirname(path);
    const files = isDir ? resultsFilesIn(path) : [path];
    for (const file of files) entries.push({ file, results: parseJsonFile(file, ResultsFile) });
    if (isDir) {
      for (const name of readdirSync(path).filter((n) => n.endsWith(STARTUP_ERROR_SUFFIX)).sort()) {
        failures.push(parseJsonFile(join(path, name), StartupFailureFile));
      }
    }
    if (!hwInfo && existsSync(join(dir, HW_INFO_FILE))) hwInfo = parseJsonFile(join(dir, HW_INFO_FILE), HwInfo);
  }
  const counts = new Map<string, number>();
  for (const e of entries) counts.set(e.results.framework, (counts.get(e.results.framework) ?? 0) + 1);
  const files = entries.map(({ file, results }) => ({
    file,
    results,
    label: counts.get(results.framework)! > 1 ? `${results.framework} (${basename(dirname(file))})` : results.framework,
  }));
  const labelCount = new Set(files.map((f) => f.label)).size;
  if (labelCount !== files.length) throw new Error("two results files of one framework in the same folder; give them separately");
  return buildModel(paths, files, hwInfo, failures);
}

/** The model of one results folder (`results/<timestamp>/`). */
export function loadResultsDir(dir: string): ResultsModel {
  return loadResults([dir]);
}

/** Summaries of one prompt, in label order. */
export const summariesFor = (model: ResultsModel, promptId: string): PromptSummary[] => model.summaries.filter((s) => s.promptId === promptId);
