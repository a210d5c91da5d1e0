import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { hostSettings, processEnvironment } from "./settings.ts";

/** Where Vitest's own bench result of a case is saved (BENCH_VITEST_SAVE) and its baseline read from (BENCH_VITEST_BASELINE). */
export interface VitestResultFiles {
  /** Absolute path the case's Vitest result is written to (`bench(name, { writeResult })`); null when not asked. */
  save: string | null;
  /** Absolute path of the same case's result from an earlier run (`bench.from`), when that file exists; else null. */
  baseline: string | null;
}

/** File name of a case's Vitest result: one per (framework label, prompt), safe on every filesystem. */
export const vitestResultName = (framework: string, promptId: string): string => `${`${framework}__${promptId}`.replace(/[^A-Za-z0-9._-]+/g, "_")}.json`;

/**
 * Vitest 5 replaced `vitest bench --outputJson` / `--compare` with per-benchmark files: `writeResult`
 * saves a result (tinybench statistics over the samples, here the runner-measured request times given
 * as overriddenDuration), `bench.from` reads one back and `bench.compare` prints both in one table.
 * BENCH_VITEST_SAVE=DIR saves every case's result in DIR; BENCH_VITEST_BASELINE=DIR adds the saved
 * result of the same case to its table. Vitest requires DIR inside the project root.
 */
export function vitestResultFiles(framework: string, promptId: string, env: NodeJS.ProcessEnv = processEnvironment()): VitestResultFiles {
  const { BENCH_VITEST_SAVE, BENCH_VITEST_BASELINE } = hostSettings(env);
  const name = vitestResultName(framework, promptId);
  const save = BENCH_VITEST_SAVE ? join(resolve(BENCH_VITEST_SAVE), name) : null;
  const baselineFile = BENCH_VITEST_BASELINE ? join(resolve(BENCH_VITEST_BASELINE), name) : null;
  return { save, baseline: baselineFile && existsSync(baselineFile) ? baselineFile : null };
}
