import { existsSync } from "node:fs";
import type { Reporter, TestCase } from "vitest/node";
import { resultsFilesIn } from "./summary.ts";
import { writeReport } from "./write-report.ts";

/** Environment variables naming the run's results folder (absolute), set by the harness's global setup. */
const RESULTS_DIR_ENV = ["BENCH_RESULTS_DIR", "QWEN3_BENCH_RUN_DIR"] as const;

function resultsDir(): string | null {
  for (const name of RESULTS_DIR_ENV) {
    const dir = process.env[name];
    if (dir) return dir;
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
    const dir = resultsDir();
    if (!dir || !existsSync(dir) || resultsFilesIn(dir).length === 0) return;
    try {
      const written = await writeReport(dir);
      process.stderr.write(`qwen3-bench: report written: ${written.filter((f) => f.endsWith(".md") || f.endsWith(".html")).join(", ")}\n`);
    } catch (e) {
      // A report failure must not hide the benchmark's own outcome; the results files are intact.
      process.stderr.write(`qwen3-bench: could not write the report for ${dir}: ${(e as Error).message}\n  rebuild it with: qwen3-bench report ${dir}\n`);
    }
  }
}
