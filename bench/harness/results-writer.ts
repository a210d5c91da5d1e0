import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomically } from "./atomic-file.ts";
import { labelFileStem } from "./framework-label.ts";
import { frameworkMemoryMetric } from "./memory/framework-metric.ts";
import { modelInfoFor } from "./model/validate.ts";
import { rotatesFrameworks, type BenchPlan } from "./plan.ts";
import { collectProvenance } from "./provenance.ts";
import type { Dtype } from "./schema/model-config.ts";
import type { ReadyMessage } from "./schema/protocol.ts";
import {
  ResultsFile,
  StartupFailureFile,
  type AgreementRecord,
  type CaseRecord,
  type QuantizationRecord,
  type RestartRecord,
  type RunError,
  type RunRecord,
} from "./schema/results.ts";
import { harnessVersion } from "./version.ts";

/** File name of a framework's results inside a results folder (a variant's label made file-safe: framework-label.ts). */
export const resultsFileName = (framework: string): string => `${labelFileStem(framework)}_results.json`;

/** The head of a results file: what ran (label, runner, model, provenance) and how (profile, counts, host), before any record. */
export type ResultsHeader = Omit<ResultsFile, "runs" | "warmup_runs" | "agreement" | "errors" | "restarts" | "cases" | "updated_at">;

/**
 * The header of a label's results file, written when its runner first started: the runner's ready
 * line, the quantized copy it loaded (or null), the dtype it was asked for and the run's plan.
 */
export function resultsHeader(args: { plan: BenchPlan; label: string; requestedDtype: Dtype; ready: ReadyMessage; quantization: QuantizationRecord | null }): ResultsHeader {
  const { plan, ready, quantization } = args;
  const provenance = plan.provenance ?? collectProvenance();
  const model = modelInfoFor(plan.model, ready.dtype);
  return {
    harness_version: harnessVersion(provenance.harness.commit),
    provenance,
    framework: args.label,
    framework_version: ready.framework_version,
    backend: ready.backend,
    device: ready.device,
    precision: ready.dtype,
    requested_precision: args.requestedDtype,
    fusion: ready.fusion,
    device_memory_metric: frameworkMemoryMetric(ready.framework, ready.backend),
    autotune: ready.autotune,
    ready,
    // A quantized copy's weight bytes are its own (the bandwidth ceiling's share uses them).
    model: quantization ? { ...model, weight_bytes: quantization.weight_bytes } : model,
    quantization,
    profile: plan.profileName,
    max_new_tokens: plan.profile.max_new_tokens,
    warmup_iterations: plan.profile.warmup_iterations,
    timed_iterations: plan.profile.timed_iterations,
    cooldown_secs: plan.profile.cooldown_secs,
    cooldown_per_round: rotatesFrameworks(plan),
    parallel_start: (plan.parallelStart ?? false) && rotatesFrameworks(plan),
    runs_per_process: plan.runsPerProcess ?? null,
    budget: plan.profile.budget ?? null,
    host: plan.host,
    started_at: new Date().toISOString(),
  };
}

/**
 * Holds one framework's results file and rewrites it (validated, atomically: temp file + rename)
 * after every change, so a crash or a killed runner never loses a finished run.
 */
export class ResultsWriter {
  readonly path: string;
  private readonly data: ResultsFile;

  constructor(dir: string, initial: ResultsHeader) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, resultsFileName(initial.framework));
    this.data = { ...initial, updated_at: initial.started_at, runs: [], warmup_runs: [], agreement: [], errors: [], restarts: [], cases: [] };
    this.flush();
  }

  addRun(run: RunRecord, warmup: boolean): void {
    (warmup ? this.data.warmup_runs : this.data.runs).push(run);
    this.flush();
  }

  addAgreement(record: AgreementRecord): void {
    this.data.agreement.push(record);
    this.flush();
  }

  addError(error: RunError): void {
    this.data.errors.push(error);
    this.flush();
  }

  addCase(record: CaseRecord): void {
    this.data.cases.push(record);
    this.flush();
  }

  addRestart(restart: RestartRecord): void {
    this.data.restarts.push(restart);
    this.flush();
  }

  get results(): ResultsFile {
    return this.data;
  }

  private flush(): void {
    this.data.updated_at = new Date().toISOString();
    const valid = ResultsFile.parse(this.data);
    writeFileAtomically(this.path, JSON.stringify(valid, null, 1) + "\n");
  }
}

/** Records a failure of a framework that never got a results file (it did not start). */
export function writeStartupFailure(dir: string, framework: string, error: RunError): void {
  mkdirSync(dir, { recursive: true });
  const record: StartupFailureFile = StartupFailureFile.parse({ framework, ...error });
  writeFileSync(join(dir, `${labelFileStem(framework)}_error.json`), JSON.stringify(record, null, 1) + "\n");
}
