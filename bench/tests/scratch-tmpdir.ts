import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect } from "vitest";

/**
 * Vitest setup file (vitest.config.ts `setupFiles`): each test file gets a scratch folder of its own
 * as its temporary directory, removed after the file. Tests make model copies, hub caches, GGUFs and
 * results under `tmpdir()` (hundreds of MB a file), and so do the runner processes they start, which
 * inherit TMPDIR; without this, every `npm test` left about 1.4 GB behind, and a machine that keeps
 * /tmp between runs (CI keeps its caches) filled its disk. A folder left by a test process that was
 * killed (its pid is in the name) is removed by the next file that starts.
 */
export const SCRATCH_PREFIX = "qwen3-bench-test-";

// Test files only: a benchmark's runners keep what they cache in TMPDIR (torch's inductor cache)
// between runs, as they would for a user.
if (!expect.getState().testPath?.endsWith(".bench.ts")) useScratchTmpdir();

function useScratchTmpdir(): void {
  const systemTmp = tmpdir();
  sweepOrphans(systemTmp);
  const scratch = mkdtempSync(join(systemTmp, `${SCRATCH_PREFIX}${process.pid}-`));
  const previous = process.env.TMPDIR;
  // os.tmpdir() reads TMPDIR on every call (POSIX), and child processes inherit it.
  process.env.TMPDIR = scratch;
  afterAll(() => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(scratch, { recursive: true, force: true });
  });
}

/** Removes scratch folders whose test process is gone. */
function sweepOrphans(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(SCRATCH_PREFIX)) continue;
    const pid = Number(name.slice(SCRATCH_PREFIX.length).split("-")[0]);
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
