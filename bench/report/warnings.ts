import { CONFIDENCE, formatBandwidth, formatNumber, formatPercent } from "./format.ts";
import { parseProfilers, PROFILERS } from "../harness/profiler.ts";
import type { ResultsFile } from "../harness/schema/results.ts";
import type { PromptSummary, ResultsModel } from "./summary.ts";

/** A plain-language remark about a measurement: "warning" when a number may be wrong, "note" for context. */
export interface ReportWarning {
  level: "warning" | "note";
  /** What it is about: "torch / short", "mlx-lm", or "all". */
  subject: string;
  message: string;
}

/** Thresholds of the checks, relative. */
export const WARNING_THRESHOLDS = {
  /** CI width (high − low) above this share of the median. */
  ciWidth: 0.05,
  /** First timed run's time per token above the last's by more than this share. */
  firstVsLast: 0.1,
  /** Fewest runs for the monotone-drift check (with n runs a random order is monotone with probability 2/n!). */
  driftMinRuns: 5,
} as const;

const isCpu = (backend: string) => backend.toLowerCase() === "cpu";

/**
 * Sync audit: the shortest time one decode step can take, milliseconds. A step reads every weight
 * once (batch 1), so it cannot beat weight bytes ÷ peak memory bandwidth; null when the device's
 * bandwidth is unknown.
 */
export function stepFloorMs(weightBytes: number, bandwidthBytesPerS: number | null): number | null {
  return bandwidthBytesPerS === null || !(bandwidthBytesPerS > 0) ? null : (weightBytes / bandwidthBytesPerS) * 1000;
}

/** The sync-audit warning of a summary whose median step is faster than its device allows, else null. */
function syncAudit(s: PromptSummary, weightBytes: number): string | null {
  const floor = stepFloorMs(weightBytes, s.bandwidth?.bytesPerS ?? null);
  if (floor === null || !(s.stepLatencyMs.p50 < floor)) return null;
  return (
    `the median decode step (${formatNumber(s.stepLatencyMs.p50)} ms) is shorter than reading the weights once takes at the device's peak bandwidth ` +
    `(${formatNumber(weightBytes / 1e9)} GB at ${formatBandwidth(s.bandwidth!.bytesPerS)}: ${formatNumber(floor)} ms): physically impossible. ` +
    "The runner likely timed the enqueue of the work, not the token id on the host (runners/PROTOCOL.md, timing rule 3); its speed is not a measurement."
  );
}

/**
 * Checks a results model for suspect measurements, in the order a reader needs them: failures first,
 * then measurement quality, then context.
 */
export function collectWarnings(model: ResultsModel): ReportWarning[] {
  const warnings: ReportWarning[] = [];
  const add = (level: ReportWarning["level"], subject: string, message: string) => warnings.push({ level, subject, message });

  for (const failure of model.startupFailures) add("warning", failure.framework, `did not start (${failure.kind}): ${failure.message}`);
  for (const { label, results } of model.files) {
    for (const restart of results.restarts) {
      const where = restart.prompt_id === null ? "outside a request" : `on prompt ${restart.prompt_id}${restart.iteration === null ? "" : `, run ${restart.iteration}`}`;
      const how = restart.signal ?? `exit status ${restart.exit_code}`;
      const tail = restart.stderr_tail.trim() ? ` Last stderr: ${restart.stderr_tail.trim().split("\n").slice(-3).join(" / ")}` : "";
      add("warning", label, `the runner died ${where} (${how}) and was restarted at ${restart.at}; that case's timings may include a cold process, and \`compare\` will not gate on it without --allow-restarts.${tail}`);
    }
    for (const error of results.errors) {
      const where = error.prompt_id === null ? "" : ` on prompt ${error.prompt_id}${error.iteration === null ? "" : `, run ${error.iteration}`}`;
      add("warning", label, `a request failed${where} (${error.kind}): ${error.message}`);
    }
    for (const a of results.agreement.filter((r) => !r.passed)) {
      const where = a.first_divergence === null ? "" : `first divergence at token ${a.first_divergence}, `;
      const top1 = a.top1_agreement === null ? "" : `, teacher-forced top-1 agreement ${formatPercent(a.top1_agreement)}`;
      add("warning", `${label} / ${a.prompt_id}`, `greedy tokens fail the agreement check against ${a.reference}: ${where}${formatPercent(a.match_share)} of positions match${top1}. Its speed may not be comparable (it computes something else).`);
    }
  }

  for (const s of model.summaries) {
    const subject = `${s.label} / ${s.promptId}`;
    const impossible = syncAudit(s, model.files.find((f) => f.label === s.label)!.results.model.weight_bytes);
    if (impossible) add("warning", subject, impossible);
    const { estimate, low, high } = s.decodeTps;
    const width = (high - low) / estimate;
    if (width > WARNING_THRESHOLDS.ciWidth) {
      add("warning", subject, `the ${CONFIDENCE} confidence interval of decode speed (${formatNumber(low)}–${formatNumber(high)} tok/s) spans ${formatPercent(width)} of the median; more timed runs or a quieter machine would narrow it.`);
    }
    const samples = s.decodeTpsSamples;
    if (samples.length >= 2) {
      const first = samples[0];
      const last = samples[samples.length - 1];
      // Slower means more time per token: (1/first) / (1/last) − 1.
      const slowdown = last / first - 1;
      if (slowdown > WARNING_THRESHOLDS.firstVsLast) {
        add("warning", subject, `the first timed run was ${formatPercent(slowdown)} slower per token than the last (${formatNumber(first)} vs ${formatNumber(last)} tok/s): the warm-up may be too short (compilation, caches, clocks).`);
      }
    }
    if (samples.length >= WARNING_THRESHOLDS.driftMinRuns) {
      const steps = samples.slice(1).map((x, i) => x - samples[i]);
      const falling = steps.every((d) => d < 0);
      const rising = steps.every((d) => d > 0);
      if (falling || rising) {
        add("warning", subject, `decode speed ${falling ? "fell" : "rose"} with every one of the ${samples.length} timed runs (${formatNumber(samples[0])} → ${formatNumber(samples[samples.length - 1])} tok/s): ${falling ? "thermal throttling or a growing background load?" : "still warming up?"}`);
      }
    }
    const short = s.runs.filter((r) => r.tokens_generated !== s.runs[0].tokens_generated);
    if (short.length) add("warning", subject, "runs generated different numbers of tokens; their speeds are not comparable.");
  }

  const gpuLabels = model.files.filter((f) => !isCpu(f.results.backend)).map((f) => f.label);
  if (gpuLabels.length) {
    for (const { label, results } of model.files.filter((f) => isCpu(f.results.backend))) {
      add("warning", label, `runs on the CPU (backend "cpu", ${results.device}) while ${gpuLabels.join(", ")} ${gpuLabels.length > 1 ? "run" : "runs"} on an accelerator; its numbers measure a different device.`);
    }
  }
  for (const { label, results } of model.files) {
    if (results.precision !== results.requested_precision) {
      add("note", label, `ran in ${results.precision} although ${results.requested_precision} was requested (reads ${results.precision === "f32" ? "twice as many" : "a different number of"} bytes per weight).`);
    }
  }
  for (const { label, results } of model.files) {
    const budgetNote = budgetTrimNote(results);
    if (budgetNote) add("note", label, budgetNote);
    const profiled = parseProfilers(results.provenance?.env.BENCH_PROFILER).filter((n) => PROFILERS[n].readyFrameworks.includes(results.ready.framework));
    if (profiled.length) add("warning", label, `profiled (BENCH_PROFILER: ${profiled.join(", ")}): its timings include the profiler's own cost; the profiles are in profiles/ beside the results.`);
  }
  const configs = new Set(model.files.map((f) => f.results.model.config_sha256));
  if (configs.size > 1) add("warning", "all", `the results measured ${configs.size} different model architectures (config hashes differ); compare with care.`);
  const synthetic = model.files.filter((f) => f.results.model.synthetic);
  if (synthetic.length) {
    const seeds = [...new Set(synthetic.map((f) => f.results.model.synth_seed))].join(", ");
    add("note", "all", `the weights are synthetic (seeded random, seed ${seeds}, from \`qwen3-bench synth\`): speed is representative of the real model of this shape, but the generated text is meaningless.`);
  }
  return warnings;
}

/** Runner notes that explain a speed (a reference BLAS, a software device): they label a trimmed runner. */
const SPEED_NOTE = /BLAS|single-threaded|unoptimi[sz]ed|software|lavapipe/i;

/**
 * What a runner's time budget trimmed or skipped, with the runner's own notes on why it is slow here;
 * null when every case ran the profile's counts.
 */
export function budgetTrimNote(results: ResultsFile): string | null {
  const cases = results.cases.filter((c) => c.trimmed || c.skipped !== null);
  if (!results.budget || cases.length === 0) return null;
  const what = cases.map((c) =>
    c.skipped !== null
      ? `${c.prompt_id} not measured (${c.skipped})`
      : `${c.prompt_id} ${c.timed_iterations} timed ${c.timed_iterations === 1 ? "run" : "runs"} of ${c.max_new_tokens} new tokens`,
  );
  const why = results.ready.notes.filter((n) => SPEED_NOTE.test(n));
  return (
    `trimmed to fit the ${results.profile} profile's ${results.budget.secs} s of requests per runner (profile: ${results.timed_iterations} timed runs of ${results.max_new_tokens} new tokens): ` +
    `${what.join("; ")}. BENCH_PROFILE=full or BENCH_BUDGET_SECS=0 runs every case in full.` +
    (why.length ? ` Why it is slow here: ${why.join("; ")}.` : "")
  );
}
