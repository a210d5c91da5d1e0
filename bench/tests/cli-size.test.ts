import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";

// A command file only reads its arguments, calls the harness or the report and prints (issue 24):
// validation, path resolution, prompt preparation and tables live in the modules of their concept.
// At most 60 lines each keeps that so.
const MAX_LINES = 60;
const CLI = join(REPO_ROOT, "bench", "cli");

/** Lines as `wc -l` counts them, a last line without a newline included. */
const lineCount = (text: string): number => (text === "" ? 0 : text.replace(/\n$/, "").split("\n").length);

describe("bench/cli", () => {
  it("counts lines as wc -l does (a check of the checker)", () => {
    expect([lineCount(""), lineCount("a\n"), lineCount("a\nb"), lineCount("a\nb\n"), lineCount("a\n\n")]).toEqual([0, 1, 2, 2, 2]);
  });

  it(`every command file has at most ${MAX_LINES} lines`, () => {
    const files = readdirSync(CLI).filter((name) => name.endsWith(".ts"));
    expect(files).toContain("main.ts");
    const over = files.map((name) => ({ name, lines: lineCount(readFileSync(join(CLI, name), "utf8")) })).filter((f) => f.lines > MAX_LINES);
    expect(over.map((f) => `bench/cli/${f.name}: ${f.lines} lines`)).toEqual([]);
  });
});
