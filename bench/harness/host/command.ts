// The harness's one way to run a command on the host: logged (setup builds), quietly for its
// output (probes), within a time limit into a log file (fidelity tools), or followed line by line
// (samplers). Each is best-effort where it says so.
import { spawnSync } from "node:child_process";
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { execa } from "execa";

/**
 * Runs a command, streaming its output to stderr with a prefix (`quiet`: keeping it for the error
 * only, for work done while a runner starts); throws with the tail on failure.
 */
export async function runLogged(label: string, command: string, args: string[], options: { cwd?: string; env?: Record<string, string>; quiet?: boolean } = {}): Promise<void> {
  const tail: string[] = [];
  // execa extends this process's environment with `env` (extendEnv).
  const child = execa(command, args, { cwd: options.cwd, env: options.env, all: true, buffer: false, reject: false });
  if (child.all) {
    createInterface({ input: child.all }).on("line", (line) => {
      if (!line.trim()) return;
      tail.push(line);
      if (tail.length > 30) tail.shift();
      if (!options.quiet) process.stderr.write(`[${label}] ${line}\n`);
    });
  }
  const result = await child;
  if (result.exitCode !== 0) {
    // A command that could not start has no exit code: say why (execa's "spawn cmake ENOENT").
    const code = (result as { code?: string }).code;
    const how = result.exitCode !== undefined ? `failed with exit code ${result.exitCode}` : code === "ENOENT" ? `could not start: spawn ${command} ENOENT (not on PATH)` : `could not start: ${result.shortMessage}`;
    throw new Error(`${label}: \`${command} ${args.join(" ")}\` ${how}\n${tail.join("\n")}`);
  }
}

/** Runs a command quietly; returns trimmed stdout, or null when it fails, is missing or outlasts the timeout. */
export async function tryOutput(command: string, args: string[], env?: Record<string, string>, options: { cwd?: string; timeoutMs?: number } = {}): Promise<string | null> {
  const { exitCode, stdout } = await commandOutput(command, args, env, options);
  return exitCode === 0 ? stdout : null;
}

/** Runs a command quietly; its exit code (null when it is missing or outlasts the timeout) and trimmed stdout, whatever the code. */
export async function commandOutput(command: string, args: string[], env?: Record<string, string>, options: { cwd?: string; timeoutMs?: number } = {}): Promise<{ exitCode: number | null; stdout: string }> {
  try {
    const result = await execa(command, args, { reject: false, timeout: options.timeoutMs ?? 120_000, cwd: options.cwd, env });
    return { exitCode: result.exitCode ?? null, stdout: String(result.stdout ?? "").trim() };
  } catch {
    return { exitCode: null, stdout: "" };
  }
}

/** tryOutput for callers that must stay synchronous (provenance is collected while a plan is made). */
export function tryOutputSync(command: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): string | null {
  const result = spawnSync(command, args, { cwd: options.cwd, encoding: "utf8", timeout: options.timeoutMs ?? 10_000 });
  return result.status === 0 && typeof result.stdout === "string" ? result.stdout.trim() : null;
}

/** A command run within a time limit: its exit code (null: stopped at the limit, or never started), its whole stdout, and why it has no code. */
export interface LimitedRun {
  code: number | null;
  stdout: string;
  why: string | null;
}

/** Stops a detached command's whole process group (or the command alone where the group is gone). */
function killGroup(pid: number | undefined, kill: () => void): void {
  try {
    process.kill(-pid!, "SIGKILL");
  } catch {
    kill();
  }
}

/**
 * The process groups of the limited commands running now. A detached group gets no Ctrl-C from the
 * terminal and outlives this process: when this process is stopped (SIGINT, SIGTERM) or exits, each
 * is stopped first, so no tool goes on holding the GPU after `qwen3-bench fidelity` has ended.
 */
const runningGroups = new Map<number, () => void>();
function stopRunningGroups(): void {
  for (const [pid, kill] of runningGroups) killGroup(pid, kill);
  runningGroups.clear();
}
let stopOnExitInstalled = false;
function stopGroupsOnExit(): void {
  if (stopOnExitInstalled) return;
  stopOnExitInstalled = true;
  process.on("exit", stopRunningGroups);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      stopRunningGroups();
      process.kill(process.pid, signal); // the listener is gone: the signal's default action ends this process
    });
  }
}

/**
 * Runs a command for at most `limitSecs`, appending its command line, its stderr as it comes and then
 * its stdout to `logFile`; stdout is kept whole, also when the limit cuts it short. The limit stops the
 * command's whole process group, so also what it started (torch.compile's workers); so does this
 * process's end.
 */
export async function runLimited(command: string, args: string[], limitSecs: number, logFile: string): Promise<LimitedRun> {
  appendFileSync(logFile, `$ ${[command, ...args].join(" ")}\n`);
  stopGroupsOnExit();
  const child = execa(command, args, { detached: true, reject: false, stdin: "ignore", stderr: { file: logFile, append: true }, stripFinalNewline: false });
  const kill = () => void child.kill("SIGKILL");
  if (child.pid !== undefined) runningGroups.set(child.pid, kill);
  let stopped = false;
  const timer = setTimeout(() => {
    stopped = true;
    killGroup(child.pid, kill);
  }, limitSecs * 1000);
  const result = await child;
  clearTimeout(timer);
  if (child.pid !== undefined) runningGroups.delete(child.pid);
  const stdout = String(result.stdout ?? "");
  appendFileSync(logFile, stdout);
  if (stopped) return { code: null, stdout, why: `stopped at its time limit (${Math.round(limitSecs)} s)` };
  if (result.exitCode === undefined) return { code: null, stdout, why: `cannot start ${command}: ${result.originalMessage ?? result.shortMessage}` };
  return { code: result.exitCode, stdout, why: null };
}

/** A followed command: stop() ends it; `exited` settles when it ends (it never rejects). */
export interface Follow {
  stop(): void;
  exited: Promise<unknown>;
}

/** Starts a long-running (or looping) command and calls onLine with each line of its stdout as it arrives; a missing command gives no lines. */
export function followLines(command: string[], onLine: (line: string) => void): Follow {
  const child = execa(command[0], command.slice(1), { reject: false, buffer: false });
  const exited = child.catch(() => {});
  if (child.stdout) createInterface({ input: child.stdout }).on("line", onLine);
  return { stop: () => void child.kill(), exited };
}
