import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { formatSecs } from "../budget.ts";
import type { Invocation } from "./tool.ts";

/** One invocation's end: exit code (null: killed at its time limit, or never started) and stdout. */
export interface Finished {
  code: number | null;
  stdout: string;
  why: string | null;
}

/** Runs a command with a time limit; stderr goes to `logFile`; stdout is kept whole, also when the limit cuts it short. */
export function runCommand(invocation: Invocation, limitSecs: number, logFile: string): Promise<Finished> {
  appendFileSync(logFile, `$ ${[invocation.command, ...invocation.args].join(" ")}\n`);
  return new Promise((resolve) => {
    // Its own process group, so a time limit also stops what it started (torch.compile's workers).
    const child = spawn(invocation.command, invocation.args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "";
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, limitSecs * 1000);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => appendFileSync(logFile, d));
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, why: `cannot start ${invocation.command}: ${e.message}` });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      appendFileSync(logFile, stdout);
      resolve({ code: killed ? null : code, stdout, why: killed ? `stopped at its time limit (${formatSecs(limitSecs)})` : null });
    });
  });
}

