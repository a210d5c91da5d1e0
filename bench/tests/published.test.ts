import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";
import { parseJsonFile } from "../harness/schema/parse.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { HwInfo } from "../report/hw-info.ts";
import { loadResultsDir, resultsFilesIn } from "../report/summary.ts";

// Published runs (docs/results/<card>-<date>/) are what the README quotes: they must stay readable
// by the current schemas, and the figures quoted must be the ones their results files give.
const PUBLISHED = join(REPO_ROOT, "docs", "results");
const runs = existsSync(PUBLISHED) ? readdirSync(PUBLISHED) : [];

describe("published runs", () => {
  it.each(runs)("%s: results files and hw_info validate; report, charts and notes are there", (run) => {
    const dir = join(PUBLISHED, run);
    const files = resultsFilesIn(dir);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(() => parseJsonFile(file, ResultsFile)).not.toThrow();
    expect(() => parseJsonFile(join(dir, "hw_info.json"), HwInfo)).not.toThrow();
    for (const name of ["report.md", "NOTES.md", "decode_tps_bar.png"]) expect(existsSync(join(dir, name)), name).toBe(true);
  });

  it("the README's H100 table quotes the medians of docs/results/h100-2026-11-25", () => {
    const model = loadResultsDir(join(PUBLISHED, "h100-2026-11-25"));
    const median = (framework: string, prompt: string) =>
      model.summaries.find((s) => s.framework === framework && s.promptId === prompt)?.decodeTps.estimate;
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### NVIDIA H100"), readme.indexOf("Command (on the host"));
    const row = (prompt: string) => section.split("\n").find((line) => line.startsWith(`| ${prompt} (`)) ?? "";
    expect(row("short")).toContain(`| ${median("torch", "short")!.toFixed(1)} (`);
    expect(row("short")).toContain(`| ${Math.round(median("torch-compile", "short")!)} (`);
    expect(row("short")).toContain(`| ${median("burn-cuda", "short")!.toFixed(1)} (`);
    expect(row("long")).toContain(`| ${Math.round(median("torch-compile", "long")!)} (`);
  });
});
