// Every environment knob is read in one place, bench/harness/settings.ts (zod, with its units and
// defaults), and passed down as a value: a `process.env` anywhere else in bench/'s sources fails
// here. The tests themselves may build environments for the processes they start.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";

/** `process.env`, `process["env"]` or `process?.env`, as code (a line comment's mention is not a read). */
const ENV_READ = /\bprocess\s*(\?\.|\.)\s*env\b|\bprocess\s*\[\s*["'`]env["'`]\s*\]/;

/** "file:line: text" for every line of a source under `root` that touches the process environment, outside `allowed` and `skipped` folders. */
export function environmentReads(root: string, allowed: string[], skipped: string[]): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(root, path);
      if (statSync(path).isDirectory()) {
        if (name !== "node_modules" && !skipped.includes(`${rel}/`)) walk(path);
      } else if (/\.(ts|mts|mjs|js)$/.test(name) && !allowed.includes(rel)) {
        readFileSync(path, "utf8")
          .split("\n")
          .forEach((line, i) => {
            if (ENV_READ.test(line.replace(/\/\/.*$/, ""))) found.push(`${rel}:${i + 1}: ${line.trim()}`);
          });
      }
    }
  };
  walk(root);
  return found;
}

describe("environment reads", () => {
  test("bench/ reads process.env only in harness/settings.ts", () => {
    expect(environmentReads(join(REPO_ROOT, "bench"), ["harness/settings.ts"], ["tests/"])).toEqual([]);
  });

  const fixture = mkdtempSync(join(tmpdir(), "qwen3-bench-env-reads-"));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));

  test("the scan finds a read in any form, and only outside the allowed file", () => {
    mkdirSync(join(fixture, "harness"), { recursive: true });
    writeFileSync(join(fixture, "harness", "settings.ts"), "export const env = () => process.env;\n");
    writeFileSync(join(fixture, "a.ts"), "// process.env in a comment is no read\nconst x = process.env.BENCH_X;\nconst y = process[\"env\"];\nconst { HOME } = process .env;\n");
    expect(environmentReads(fixture, ["harness/settings.ts"], [])).toEqual(['a.ts:2: const x = process.env.BENCH_X;', 'a.ts:3: const y = process["env"];', "a.ts:4: const { HOME } = process .env;"]);
  });
});
