import { createInterface } from "node:readline";
import { execa } from "execa";

/** Runs a command, streaming its output to stderr with a prefix; throws with the tail on failure. */
export async function runLogged(label: string, command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<void> {
  const tail: string[] = [];
  const child = execa(command, args, { ...options, all: true, buffer: false, reject: false, env: { ...process.env, ...options.env } });
  if (child.all) {
    createInterface({ input: child.all }).on("line", (line) => {
      if (!line.trim()) return;
      tail.push(line);
      if (tail.length > 30) tail.shift();
      process.stderr.write(`[${label}] ${line}\n`);
    });
  }
  const result = await child;
  if (result.exitCode !== 0) {
    throw new Error(`${label}: \`${command} ${args.join(" ")}\` failed with exit code ${result.exitCode}\n${tail.join("\n")}`);
  }
}

/** Runs a command quietly; returns trimmed stdout, or null when it fails or is missing. */
export async function tryOutput(command: string, args: string[], env?: Record<string, string>): Promise<string | null> {
  try {
    const result = await execa(command, args, { reject: false, timeout: 120_000, env: { ...process.env, ...env } });
    return result.exitCode === 0 ? String(result.stdout).trim() : null;
  } catch {
    return null;
  }
}
