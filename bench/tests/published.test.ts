import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";
import { parseJsonFile } from "../harness/schema/parse.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { HwInfo } from "../harness/schema/hw-info.ts";
import { loadResults, resultsFilesIn } from "../report/summary.ts";

// Published runs (docs/results/<date>-<card>-<topic>/) are what the README and the results index
// quote: they must stay readable by the current schemas, and the figures quoted must be the ones
// their results files give. (That the index lists every folder: docs.test.ts.)
const PUBLISHED = join(REPO_ROOT, "docs", "results");
const runs = existsSync(PUBLISHED) ? readdirSync(PUBLISHED).filter((name) => statSync(join(PUBLISHED, name)).isDirectory()) : [];
const README = join(REPO_ROOT, "README.md");
const RESULTS_INDEX = join(PUBLISHED, "README.md");

/** The run the README's "Latest results" table quotes, and that table's columns (framework labels). */
const LATEST = {
  run: "2026-12-07-h100-headline-all-prompts",
  labels: ["burn-cuda[kernels=custom]", "torch-fast", "llama-cpp[type=f16]", "burn-wgpu[kernels=custom]", "llama-cpp[type=f16,backend=vulkan]", "torch-compile", "mlx-lm", "burn-cuda", "burn-wgpu"],
  /** The prompts that run measured. */
  prompts: ["short", "medium", "long"],
};

/**
 * A run's results folders: its lanes (gpu0/, gpu1/, ...: BENCH_LANES), else the run itself where it
 * holds results files, else its parts (subfolders with results files: one run's calls, e.g. short/
 * and medium/ of docs/results/2026-11-29-h200-memory-plan-fidelity).
 */
function runFolders(dir: string): string[] {
  const subfolders = readdirSync(dir).filter((name) => statSync(join(dir, name)).isDirectory()).sort();
  const lanes = subfolders.filter((name) => /^gpu\d+$/.test(name));
  if (lanes.length > 0) return lanes.map((name) => join(dir, name));
  if (resultsFilesIn(dir).length > 0) return [dir];
  return subfolders.map((name) => join(dir, name)).filter((folder) => resultsFilesIn(folder).length > 0);
}

/**
 * The first Markdown table after `heading` in `file`: for the row of `prompt`, each cell after the
 * prompt cell (`756 (749–760)`: the median and its 95 % interval).
 */
function quotedCells(file: string, heading: string, prompt: string): string[] {
  const text = readFileSync(file, "utf8");
  const start = text.indexOf(heading);
  expect(start, `${file}: no heading ${heading}`).toBeGreaterThanOrEqual(0);
  const lines = text.slice(start).split("\n");
  const tableStart = lines.findIndex((line) => line.startsWith("| "));
  const table = lines.slice(tableStart, lines.findIndex((line, i) => i > tableStart && !line.startsWith("|")));
  const row = table.find((line) => line.startsWith(`| ${prompt} (`));
  expect(row, `${file}: the table under ${heading} has no row for ${prompt}`).toBeDefined();
  return row!.split("|").slice(2, -1).map((cell) => cell.trim());
}

/** The column headers of the first Markdown table after `heading`, after the prompt column. */
function quotedLabels(file: string, heading: string): string[] {
  const text = readFileSync(file, "utf8");
  const lines = text.slice(text.indexOf(heading)).split("\n");
  const header = lines.find((line) => line.startsWith("| ")) ?? "";
  return header.split("|").slice(2, -1).map((cell) => cell.trim());
}

/** tok/s as the docs write it: whole numbers from 100 tok/s, one decimal below. */
const tokPerSec = (value: number): string => (value >= 100 ? Math.round(value).toString() : value.toFixed(1));

/** Each label's median decode tok/s on `prompt` with its 95 % interval, as the docs' tables write it. */
function figures(run: string[], labels: string[], prompt: string): string[] {
  const model = loadResults(run);
  return labels.map((label) => {
    const summary = model.summaries.find((s) => s.label === label && s.promptId === prompt);
    expect(summary, `${run.join(", ")}: no ${label} on ${prompt}`).toBeDefined();
    const { estimate, low, high } = summary!.decodeTps;
    return `${tokPerSec(estimate)} (${tokPerSec(low)}–${tokPerSec(high)})`;
  });
}

describe("published runs", () => {
  it.each(runs)("%s: results files and hw_info validate; NOTES.md, report and chart at the top", (run) => {
    const dir = join(PUBLISHED, run);
    expect(run, "folder name: <date>-<card>-<topic>").toMatch(/^\d{4}-\d\d-\d\d-[a-z0-9]+-[a-z0-9-]+$/);
    expect(runFolders(dir).length, `${run}: no results files`).toBeGreaterThan(0);
    for (const folder of runFolders(dir)) {
      const files = resultsFilesIn(folder);
      expect(files.length, folder).toBeGreaterThan(0);
      for (const file of files) expect(() => parseJsonFile(file, ResultsFile)).not.toThrow();
      expect(() => parseJsonFile(join(folder, "hw_info.json"), HwInfo)).not.toThrow();
    }
    for (const name of ["NOTES.md", "report.md", "decode_tps_bar.png"]) expect(existsSync(join(dir, name)), join(dir, name)).toBe(true);
  });

  it(`the README's "Latest results" table quotes the medians and intervals of docs/results/${LATEST.run}`, () => {
    const run = runFolders(join(PUBLISHED, LATEST.run));
    expect(quotedLabels(README, "## Latest results")).toEqual(LATEST.labels);
    for (const prompt of LATEST.prompts) {
      expect(quotedCells(README, "## Latest results", prompt), `README row ${prompt}`).toEqual(figures(run, LATEST.labels, prompt));
    }
  });

  it("the README's depth table quotes the medians and intervals of 2026-12-07-h100-depth-fidelity-soak", () => {
    const dir = join(PUBLISHED, "2026-12-07-h100-depth-fidelity-soak");
    const heading = "**Decode at context depth**";
    const labels = ["burn-cuda[kernels=custom]", "llama-cpp[type=f16]", "torch-fast", "mlx-lm"];
    expect(quotedLabels(README, heading)).toEqual(labels);
    // Depths 0 and 4096 come from the first call's two parts, the deeper ones from the next call's.
    const parts: Record<string, string[]> = { "0": ["depth-burn", "depth-peers"], "4096": ["depth-burn", "depth-peers"], "16384": ["depth-peers-deep"], "32768": ["depth-peers-deep"] };
    for (const [depth, folders] of Object.entries(parts)) {
      const run = folders.map((folder) => join(dir, folder));
      const cells = quotedCells(README, heading, depth);
      labels.forEach((label, i) => {
        if (cells[i] !== "not reached") return expect(cells[i], `${label} at ${depth}`).toEqual(figures(run, [label], `short-d${depth}`)[0]);
        const measured = loadResults(run).summaries.some((s) => s.label === label && s.promptId === `short-d${depth}`);
        expect(measured, `${label} at ${depth}: the README says not reached`).toBe(false);
      });
    }
  });

  it("the README's chart is the latest run's", () => {
    expect(readFileSync(README, "utf8")).toContain(`docs/results/${LATEST.run}/decode_tps_bar.png`);
  });

  it("docs/results/README.md's H100 table quotes the medians and intervals of 2026-11-25-h100x2-all-runners", () => {
    const run = runFolders(join(PUBLISHED, "2026-11-25-h100x2-all-runners"));
    const labels = ["torch (gpu0)", "torch-compile", "mlx-lm", "burn-cuda", "burn-wgpu"];
    for (const prompt of ["short", "medium", "long"]) {
      expect(quotedCells(RESULTS_INDEX, "### NVIDIA H100", prompt), `docs/results/README.md row ${prompt}`).toEqual(figures(run, labels, prompt));
    }
  });

  it("docs/results/README.md's kernel-sets table quotes the medians and intervals of 2026-11-29-h200-kernel-sets", () => {
    const run = runFolders(join(PUBLISHED, "2026-11-29-h200-kernel-sets"));
    const heading = "## 2026-11-29-h200-kernel-sets:";
    const labels = ["burn-cuda[kernels=custom]", "torch-compile", "burn-cuda[kernels=gemv+norm]", "burn-cuda"];
    expect(quotedLabels(RESULTS_INDEX, heading)).toEqual(labels);
    for (const prompt of ["short", "medium", "long"]) {
      expect(quotedCells(RESULTS_INDEX, heading, prompt), `docs/results/README.md row ${prompt}`).toEqual(figures(run, labels, prompt));
    }
  });
});
