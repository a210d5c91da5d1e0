import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["bench/tests/**/*.test.ts"],
    globalSetup: ["bench/harness/global-setup.ts"],
    // Each test file's temporary files (and its runners') go to a scratch folder removed after it.
    setupFiles: ["bench/tests/scratch-tmpdir.ts"],
    // The default table, plus report.md/report.html/charts written into the run's results folder.
    reporters: ["default", "./bench/report/vitest-reporter.ts"],
    // Runner processes load models: generous timeouts, and one file at a time on small machines.
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    benchmark: {
      include: ["bench/**/*.bench.ts"],
    },
  },
});
