// No import cycles in bench/ (tinybench's one-concept-per-file layering): a cycle means two modules
// that cannot be read, tested or moved one without the other. And no import that runs up a layer
// (LAYERS: stats < schema < host < harness < report < cli < entry points and tests).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";
import { findImportCycles, findLayerViolations } from "./import-cycles.ts";

describe("import cycles", () => {
  test("bench/ has none", () => {
    const cycles = findImportCycles(join(REPO_ROOT, "bench"));
    expect(cycles.map((c) => c.join(" → "))).toEqual([]);
  });

  test("no import runs from a lower layer to a higher one", () => {
    expect(findLayerViolations(join(REPO_ROOT, "bench"))).toEqual([]);
  });

  const fixture = mkdtempSync(join(tmpdir(), "qwen3-bench-cycles-"));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(join(fixture, file, ".."), { recursive: true });
    writeFileSync(join(fixture, file), text);
  };

  test("the checker finds a cycle through a type-only import and a re-export, and names its files in order", () => {
    write("a.ts", `import { b } from "./b.ts";\nexport const a = () => b;\n`);
    write("b.ts", `export { c as b } from "./sub/c.ts";\n`);
    write("sub/c.ts", `import type { A } from "../a.ts";\nexport const c = 1;\nexport type C = A;\n`);
    write("leaf.ts", `import { a } from "./a.ts";\nimport { z } from "zod";\nexport const leaf = [a, z];\n`);
    write("self.ts", `export const self = () => import("./self.ts");\n`);
    expect(findImportCycles(fixture)).toEqual([
      ["a.ts", "b.ts", "sub/c.ts", "a.ts"],
      ["self.ts", "self.ts"],
    ]);
  });

  test("an acyclic folder has none", () => {
    rmSync(join(fixture, "self.ts"));
    write("sub/c.ts", `export const c = 1;\n`);
    expect(findImportCycles(fixture)).toEqual([]);
  });

  test("the layer check names an import that runs up, and only that one", () => {
    const layers = [
      { name: "low", prefix: "low/" },
      { name: "high", prefix: "high/" },
      { name: "top", prefix: "" },
    ];
    write("low/x.ts", `import { y } from "../high/y.ts";\nexport const x = y;\n`);
    write("high/y.ts", `export const y = 1;\n`);
    write("high/z.ts", `import { x } from "../low/x.ts";\nexport const z = x;\n`);
    write("main.ts", `import { z } from "./high/z.ts";\nexport const main = z;\n`);
    expect(findLayerViolations(join(fixture), layers).filter((v) => v.startsWith("low/") || v.startsWith("high/"))).toEqual(["low/x.ts (low) → high/y.ts (high)"]);
  });
});
