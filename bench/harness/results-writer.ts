import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { labelFileStem } from "./framework-label.ts";
import { ResultsFile, StartupFailureFile, type AgreementRecord, type CaseRecord, type RestartRecord, type RunError, type RunRecord } from "./schema/results.ts";

/** File name of a framework's results inside a results folder (a variant's label made file-safe: framework-label.ts). */
export const resultsFileName = (framework: string): string => `${labelFileStem(framework)}_results.json`;

/**
 * Holds one framework's results file and rewrites it (validated, atomically: temp file + rename)
 * after every change, so a crash or a killed runner never loses a finished run.
 */
export class ResultsWriter {
  readonly path: string;
  private readonly data: ResultsFile;

  constructor(dir: string, initial: Omit<ResultsFile, "runs" | "warmup_runs" | "agreement" | "errors" | "restarts" | "cases" | "updated_at">) {
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
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(valid, null, 1) + "\n");
    renameSync(tmp, this.path);
  }
}

/** Records a failure of a framework that never got a results file (it did not start). */
export function writeStartupFailure(dir: string, framework: string, error: RunError): void {
  mkdirSync(dir, { recursive: true });
  const record: StartupFailureFile = StartupFailureFile.parse({ framework, ...error });
  writeFileSync(join(dir, `${labelFileStem(framework)}_error.json`), JSON.stringify(record, null, 1) + "\n");
}
