import { existsSync } from "node:fs";
import type { Reporter, TestCase } from "vitest/node";
import { laneResultsDirs } from "../harness/lanes.ts";
import { loadResults, resultsFilesIn } from "./summary.ts";
import { writeReport } from "./write-report.ts";
import { harnessVariable } from "../harness/settings.ts";

/**
 * Environment variables that may name the run's results folder, in order: the harness's global setup
 * sets QWEN3_BENCH_RUN_DIR to results/<timestamp>/ (absolute); BENCH_RESULTS_DIR is honoured only when
 * it points straight at a folder of results files (the harness uses it for the results root).
 */
const RESULTS_DIR_ENV = ["QWEN3_BENCH_RUN_DIR", "BENCH_RESULTS_DIR"] as const;

/** The first of the variables that names a folder holding results files; null when none does. */
function resultsDir(): string | null {
  for (const name of RESULTS_DIR_ENV) {
    const dir = harnessVariable(name);
    if (dir && existsSync(dir) && resultsFilesIn(dir).length > 0) return dir;
  }
  return null;
}

/**
 * Vitest reporter that writes report.md, report.html, verify.txt and the charts into the run's
 * results folder when the run ends (after `vitest bench`); it does nothing when the folder holds no
 * results files (plain `vitest run`). Register it next to the default reporter.
 */
export default class BenchReportReporter implements Reporter {
  onTestCaseBenchmark(testCase: TestCase): void {
    process.stderr.write(`qwen3-bench: measured ${testCase.fullName}\n`);
  }

  async onTestRunEnd(): Promise<void> {
    // BENCH_LANES: the run's folder holds one folder of results per lane (gpu0/, gpu1/): one report over them.
    const runDir = harnessVariable("QWEN3_BENCH_RUN_DIR");
    const lanes = runDir ? laneResultsDirs(runDir).filter((d) => resultsFilesIn(d).length > 0) : [];
    const dir = lanes.length ? runDir! : resultsDir();
    if (!dir) return;
    try {
      const written = await writeReport(dir, lanes.length ? { model: loadResults(lanes) } : {});
      process.stderr.write(`qwen3-bench: report written: ${written.filter((f) => f.endsWith(".md") || f.endsWith(".html")).join(", ")}\n`);
    } catch (e) {
      // A report failure must not hide the benchmark's own outcome; the results files are intact.
      process.stderr.write(`qwen3-bench: could not write the report for ${dir}: ${(e as Error).message}\n  rebuild it with: qwen3-bench report ${dir}\n`);
    }
  }
}
