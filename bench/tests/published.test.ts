import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";
import { parseJsonFile } from "../harness/schema/parse.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { HwInfo } from "../harness/schema/hw-info.ts";
import { loadResults, resultsFilesIn } from "../report/summary.ts";

// Published runs (docs/results/<card>-<date>/) are what the README quotes: they must stay readable
// by the current schemas, and the figures quoted must be the ones their results files give.
const PUBLISHED = join(REPO_ROOT, "docs", "results");
const runs = existsSync(PUBLISHED) ? readdirSync(PUBLISHED).filter((name) => statSync(join(PUBLISHED, name)).isDirectory()) : [];
const README = join(REPO_ROOT, "README.md");
const RESULTS_INDEX = join(PUBLISHED, "README.md");

/**
 * A run's results folders: its lanes (gpu0/, gpu1/, ...: offline-run.sh BENCH_LANES), else the run
 * itself where it holds results files, else its parts (subfolders with results files: one lease's
 * calls, e.g. short/ and medium/ of docs/results/h200-2026-11-29b).
 */
function runFolders(dir: string): string[] {
  const subfolders = readdirSync(dir).filter((name) => statSync(join(dir, name)).isDirectory()).sort();
  const lanes = subfolders.filter((name) => /^gpu\d+$/.test(name));
  if (lanes.length > 0) return lanes.map((name) => join(dir, name));
  if (resultsFilesIn(dir).length > 0) return [dir];
  return subfolders.map((name) => join(dir, name)).filter((folder) => resultsFilesIn(folder).length > 0);
}

describe("published runs", () => {
  it.each(runs)("%s: results files and hw_info validate; report, charts and notes are there", (run) => {
    const dir = join(PUBLISHED, run);
    expect(runFolders(dir).length, `${run}: no results files`).toBeGreaterThan(0);
    for (const folder of runFolders(dir)) {
      const files = resultsFilesIn(folder);
      expect(files.length, folder).toBeGreaterThan(0);
      for (const file of files) expect(() => parseJsonFile(file, ResultsFile)).not.toThrow();
      expect(() => parseJsonFile(join(folder, "hw_info.json"), HwInfo)).not.toThrow();
    }
    expect(existsSync(join(dir, "NOTES.md")), "NOTES.md").toBe(true);
    // The report and its chart: of the run, or of each part where the run came in parts.
    const reported = runFolders(dir).every((folder) => folder === dir || /\/gpu\d+$/.test(folder)) ? [dir] : runFolders(dir);
    for (const folder of reported) for (const name of ["report.md", "decode_tps_bar.png"]) expect(existsSync(join(folder, name)), join(folder, name)).toBe(true);
  });

  it("docs/results/README.md lists every run folder once, newest first", () => {
    const index = readFileSync(RESULTS_INDEX, "utf8");
    const rows = [...index.matchAll(/^\| \[([^\]]+)\]\(\1\/NOTES\.md\) \| [^|]+ \| (\d{4}-\d\d-\d\d \d\d:\d\d) \|/gm)].map((m) => ({ run: m[1], at: m[2] }));
    expect(rows.map((r) => r.run).sort()).toEqual([...runs].sort());
    expect(rows.map((r) => r.at)).toEqual(rows.map((r) => r.at).sort().reverse());
  });

  /** The table under `heading` in a Markdown file: per prompt row, the first number of each cell after the prompt. */
  function quotedMedians(file: string, heading: string, prompt: string): string[] {
    const readme = readFileSync(file, "utf8");
    const start = readme.indexOf(heading);
    expect(start, `${file}: no heading ${heading}`).toBeGreaterThanOrEqual(0);
    const section = readme.slice(start, readme.indexOf("Command (on the host", start));
    const row = section.split("\n").find((line) => line.startsWith(`| ${prompt} (`)) ?? "";
    return row.split("|").slice(2, -1).map((cell) => cell.trim().split(" ")[0]);
  }

  /** A median as the README writes it: whole numbers from 100 tok/s, one decimal below. */
  function medians(run: string[], labels: string[], prompt: string): string[] {
    const model = loadResults(run);
    return labels.map((label) => {
      const estimate = model.summaries.find((s) => s.label === label && s.promptId === prompt)!.decodeTps.estimate;
      return estimate >= 100 ? Math.round(estimate).toString() : estimate.toFixed(1);
    });
  }

  it("docs/results/README.md's H100 table quotes the medians of docs/results/h100x2-2026-11-25", () => {
    const run = runFolders(join(PUBLISHED, "h100x2-2026-11-25"));
    for (const prompt of ["short", "medium", "long"]) {
      const labels = ["torch (gpu0)", "torch-compile", "mlx-lm", "burn-cuda", "burn-wgpu"];
      expect(quotedMedians(RESULTS_INDEX, "### NVIDIA H100", prompt), `docs/results/README.md row ${prompt}`).toEqual(medians(run, labels, prompt));
    }
  });

  it("the README's first-screen H200 table quotes the medians of docs/results/h200-2026-11-29d", () => {
    const labels = ["burn-cuda[kernels=custom]", "torch-compile", "mlx-lm", "burn-cuda"];
    const run = runFolders(join(PUBLISHED, "h200-2026-11-29d"));
    for (const prompt of ["short", "medium", "long"]) {
      expect(quotedMedians(README, "### NVIDIA H200: Burn with", prompt), `README row ${prompt}`).toEqual(medians(run, labels, prompt));
    }
  });

  it("the README's earlier-lease H200 table quotes the medians of docs/results/h200-2026-11-29c", () => {
    const labels = ["burn-cuda[kernels=custom]", "torch-compile", "burn-cuda[kernels=gemv+norm]", "burn-cuda"];
    const run = runFolders(join(PUBLISHED, "h200-2026-11-29c"));
    for (const prompt of ["short", "medium", "long"]) {
      expect(quotedMedians(README, "### NVIDIA H200, earlier lease", prompt), `README row ${prompt}`).toEqual(medians(run, labels, prompt));
    }
  });
});
