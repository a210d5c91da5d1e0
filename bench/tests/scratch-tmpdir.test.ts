import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";
import { SCRATCH_PREFIX } from "./scratch-tmpdir.ts";

test("each test file writes under a scratch TMPDIR of its own, removed after the file, with what its child processes wrote", () => {
  // This file runs under the setup file too: the nested run's "system" temporary folder is ours.
  const outer = tmpdir();
  expect(outer).toMatch(new RegExp(`/${SCRATCH_PREFIX}${process.pid}-[^/]+$`));
  // A folder of a test process that is gone, and one of a process that is alive (this one).
  const dead = spawnSync("true").pid!;
  const orphan = join(outer, `${SCRATCH_PREFIX}${dead}-orphan`);
  const alive = join(outer, `${SCRATCH_PREFIX}${process.pid}-alive`);
  for (const dir of [orphan, alive]) mkdirSync(join(dir, "inside"), { recursive: true });

  const run = spawnSync(join(REPO_ROOT, "node_modules", ".bin", "vitest"), ["run", "--config", "fixtures/scratch-tmpdir/vitest.config.ts"], { cwd: REPO_ROOT, encoding: "utf8", env: { ...process.env, TMPDIR: outer } });
  expect(run.status, run.stdout + run.stderr).toBe(0);
  const printed = /SCRATCH (\{.*\})/.exec(run.stdout);
  expect(printed, run.stdout).not.toBeNull();
  const seen = JSON.parse(printed![1]!) as { tmpdir: string; own: string; child: string };
  expect(seen.tmpdir.startsWith(join(outer, SCRATCH_PREFIX))).toBe(true);
  expect(seen.own.startsWith(seen.tmpdir)).toBe(true);
  expect(seen.child.startsWith(seen.tmpdir)).toBe(true);
  for (const path of [seen.tmpdir, seen.own, seen.child, orphan]) expect(existsSync(path), path).toBe(false);
  expect(existsSync(alive)).toBe(true);
  expect(readdirSync(outer).filter((name) => name.startsWith(SCRATCH_PREFIX))).toEqual([`${SCRATCH_PREFIX}${process.pid}-alive`]);
}, 60_000);
