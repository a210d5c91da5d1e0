// host/command.ts is the harness's one command runner (beside the runner processes of the protocol
// and the lanes' child runs). Its runLimited runs the fidelity tools: a time limit that stops the tool
// and what it started, its stderr and stdout in the tool's log, its stdout kept whole also when cut short.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { runLimited } from "../harness/host/command.ts";
import { REPO_ROOT } from "../harness/paths.ts";

const dir = mkdtempSync(join(tmpdir(), "qwen3-bench-command-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** True while a process exists and is not a zombie waiting to be reaped. */
const alive = (pid: number) => {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  try {
    return readFileSync(stat, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
};

describe("host/command.ts runLimited", () => {
  test("an exit code, its whole stdout, and the command line, stderr and stdout in the log", async () => {
    const log = join(dir, "exit.log");
    const run = await runLimited("sh", ["-c", "echo out; echo err >&2; exit 3"], 30, log);
    expect(run).toEqual({ code: 3, stdout: "out\n", why: null });
    expect(readFileSync(log, "utf8")).toBe("$ sh -c echo out; echo err >&2; exit 3\nerr\nout\n");
  });

  test.skipIf(!existsSync("/proc/self/stat"))("the time limit stops the command and what it started; what it printed is kept", async () => {
    const log = join(dir, "limit.log");
    const t0 = Date.now();
    const run = await runLimited("sh", ["-c", "sleep 60 & echo started $!; sleep 60"], 1, log);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(run.code).toBeNull();
    expect(run.why).toBe("stopped at its time limit (1 s)");
    const grandchild = Number(/started (\d+)/.exec(run.stdout)?.[1]);
    expect(grandchild).toBeGreaterThan(0);
    for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((done) => setTimeout(done, 50));
    expect(alive(grandchild)).toBe(false);
    expect(readFileSync(log, "utf8")).toContain(`started ${grandchild}`);
  });

  test.skipIf(!existsSync("/proc/self/stat"))("stopping this process (SIGTERM, SIGINT) stops the command it runs, which Ctrl-C does not reach in its own group", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const pidFile = join(dir, `tool-${signal}.pid`);
      const startedFile = join(dir, `started-${signal}`);
      // runLimited has started the tool (and knows its group) when its call returns its promise.
      const script = `import { writeFileSync } from "node:fs";
import { runLimited } from ${JSON.stringify(join(REPO_ROOT, "bench", "harness", "host", "command.ts"))};
const run = runLimited("sh", ["-c", "echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; sleep 60"], 120, ${JSON.stringify(join(dir, `tool-${signal}.log`))});
writeFileSync(${JSON.stringify(startedFile)}, "");
await run;`;
      const parent = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "ignore" });
      for (let i = 0; i < 200 && !(existsSync(pidFile) && existsSync(startedFile)); i++) await new Promise((done) => setTimeout(done, 50));
      const tool = Number(readFileSync(pidFile, "utf8"));
      expect(alive(tool), `${signal}: the tool runs`).toBe(true);
      const ended = new Promise((done) => parent.on("exit", (code, sig) => done(sig ?? code)));
      parent.kill(signal);
      expect(await ended).toBe(signal);
      for (let i = 0; i < 50 && alive(tool); i++) await new Promise((done) => setTimeout(done, 50));
      expect(alive(tool), `${signal}: the tool outlived the command that ran it`).toBe(false);
    }
  });

  test("a command that cannot start says so", async () => {
    const run = await runLimited(join(dir, "no-such-tool"), [], 30, join(dir, "missing.log"));
    expect(run.code).toBeNull();
    expect(run.stdout).toBe("");
    expect(run.why).toMatch(/^cannot start .*no-such-tool: .*ENOENT/);
  });
});

/** Sources under `dir` (tests left out) that import a way to start processes (node:child_process, execa). */
function processStarters(dir: string, root = dir): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === "tests" || name === "node_modules" ? [] : processStarters(path, root);
      if (!/\.(ts|mts|mjs|js)$/.test(name)) return [];
      return /from\s+["'](node:)?child_process["']|from\s+["']execa["']/.test(readFileSync(path, "utf8")) ? [relative(root, path)] : [];
    });
}

test("bench/ starts processes only in host/command.ts, runner-process.ts (the protocol's runners) and lanes.ts (child runs)", () => {
  expect(processStarters(join(REPO_ROOT, "bench"))).toEqual(["harness/host/command.ts", "harness/lanes.ts", "harness/runner-process.ts"]);
});
