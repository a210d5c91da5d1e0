import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { burnBuildKey } from "../harness/setup/burn-build.ts";

const crate = mkdtempSync(join(tmpdir(), "qwen3-bench-key-"));
afterAll(() => rmSync(crate, { recursive: true, force: true }));

test("the Burn build key follows the sources, features, profile and compiler, and nothing else", () => {
  mkdirSync(join(crate, "src", "nn"), { recursive: true });
  writeFileSync(join(crate, "Cargo.toml"), "[package]\n");
  writeFileSync(join(crate, "src", "main.rs"), "fn main() {}\n");
  writeFileSync(join(crate, "src", "nn", "mlp.rs"), "\n");
  const key = () => burnBuildKey(crate, ["cpu"], "release", "rustc 1.95.0");
  const first = key();
  expect(first).toMatch(/^[0-9a-f]{64}$/);
  writeFileSync(join(crate, "README.md"), "docs do not build\n");
  expect(key()).toBe(first);
  expect(burnBuildKey(crate, ["cpu", "wgpu"], "release", "rustc 1.95.0")).not.toBe(first);
  expect(burnBuildKey(crate, ["cpu"], "dev", "rustc 1.95.0")).not.toBe(first);
  expect(burnBuildKey(crate, ["cpu"], "release", "rustc 1.96.0")).not.toBe(first);
  writeFileSync(join(crate, "src", "nn", "mlp.rs"), "// edited\n");
  expect(key()).not.toBe(first);
  writeFileSync(join(crate, "src", "nn", "mlp.rs"), "\n");
  expect(key()).toBe(first);
  writeFileSync(join(crate, "build.rs"), "fn main() {}\n");
  expect(key()).not.toBe(first);
});
