import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, expect, test } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";

const work = mkdtempSync(join(tmpdir(), "qwen3-bench-offline-env-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// scripts/offline-env.sh joins a wheel split for upload (NAME.whl.part-aa, -ab, ...). On the H100
// it was first sourced when only part-aa had arrived; that join must not survive the last part.
test("offline-env.sh joins split wheels again once more parts have arrived", async () => {
  const wheels = join(work, ".offline", "wheels");
  mkdirSync(wheels, { recursive: true });
  const source = () => execa("bash", ["-c", `source ${join(REPO_ROOT, "scripts/offline-env.sh")}`], { cwd: work });
  writeFileSync(join(wheels, "x.whl.part-aa"), "AAAA");
  await source();
  expect(readFileSync(join(wheels, "x.whl"), "utf8")).toBe("AAAA");
  writeFileSync(join(wheels, "x.whl.part-ab"), "BB");
  await source();
  expect(readFileSync(join(wheels, "x.whl"), "utf8")).toBe("AAAABB");
});
