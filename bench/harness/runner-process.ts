import type { QuantizationRecord } from "./schema/results.ts";
import { createInterface } from "node:readline";
import { execa, type ResultPromise } from "execa";
import type { z } from "zod";
import {
  ErrorReply,
  GenerateReply,
  ScoreReply,
  ShutdownReply,
  StartupMessage,
  type GenerateRequest,
  type ReadyMessage,
  type ScoreRequest,
} from "./schema/protocol.ts";
import { formatIssues } from "./schema/parse.ts";

/** How to start one runner process. */
export interface LaunchSpec {
  /** Framework name, for messages. */
  framework: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** The quantized copy of the model the runner is started on, when a label's flag asked for one (results file `quantization`). */
  quantization?: QuantizationRecord;
}

/** How a runner process ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  exitCode: number | null;
  /** "SIGKILL", or null when it exited by itself. */
  signal: string | null;
}

/** A runner that failed: it exited, timed out, broke the protocol or answered with an error. */
export class RunnerError extends Error {
  readonly kind: "fatal" | "exited" | "timeout" | "protocol" | "error_reply";
  constructor(kind: RunnerError["kind"], message: string) {
    super(message);
    this.name = "RunnerError";
    this.kind = kind;
  }
}

const STDERR_TAIL_LINES = 40;

/**
 * A warm runner process speaking runners/PROTOCOL.md over stdin/stdout. One request at a time;
 * every reply is validated with the protocol's zod schema. A request that outlives its timeout
 * kills the process, so a hung runner fails only its own cases.
 */
export class RunnerProcess {
  readonly ready: ReadyMessage;
  private readonly child: ResultPromise;
  private readonly lines: AsyncIterator<string>;
  private readonly stderr: string[];
  private nextId = 1;
  private exited: string | null = null;

  private constructor(child: ResultPromise, lines: AsyncIterator<string>, stderr: string[], ready: ReadyMessage) {
    this.child = child;
    this.lines = lines;
    this.stderr = stderr;
    this.ready = ready;
    child.then((r) => (this.exited = `exited with code ${r.exitCode ?? r.signal}`), () => (this.exited = "exited"));
  }

  /** Starts the runner and waits for its `ready` line (or `fatal`, exit, timeout). */
  static async start(spec: LaunchSpec, timeoutMs: number, onStderr?: (line: string) => void): Promise<RunnerProcess> {
    const child = execa(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { HF_HUB_OFFLINE: "1", PYTHONUNBUFFERED: "1", ...spec.env },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      buffer: false,
      reject: false,
    });
    child.catch(() => {});
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on("line", (line) => {
      stderr.push(line);
      if (stderr.length > STDERR_TAIL_LINES) stderr.shift();
      onStderr?.(line);
    });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const tail = () => (stderr.length ? `\n--- ${spec.framework} stderr (last lines) ---\n${stderr.join("\n")}` : "");
    const first = await withTimeout(lines.next(), timeoutMs, () => {
      child.kill("SIGKILL");
      return new RunnerError("timeout", `${spec.framework}: no ready line within ${timeoutMs / 1000} s${tail()}`);
    });
    if (first.done) {
      const result = await child;
      throw new RunnerError("exited", `${spec.framework}: exited with code ${result.exitCode} before ready${tail()}`);
    }
    const message = parseLine(spec.framework, first.value, StartupMessage, tail);
    if (message.op === "fatal") {
      child.kill("SIGKILL");
      throw new RunnerError("fatal", `${spec.framework}: ${message.error.message}`);
    }
    return new RunnerProcess(child, lines, stderr, message);
  }

  /** Waits for the process to end (kill() it first unless it is ending) and says how it ended. */
  async exitStatus(): Promise<ExitStatus> {
    const result = await this.child;
    return { exitCode: result.signal ? null : (result.exitCode ?? null), signal: result.signal ?? null };
  }

  /** True once the process has exited (crashed, killed or shut down). */
  get hasExited(): boolean {
    return this.exited !== null;
  }

  get framework(): string {
    return this.ready.framework;
  }

  /** The runner's process id (the harness samples its memory from outside). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  stderrTail(): string {
    return this.stderr.join("\n");
  }

  /** Sends one raw line and returns the raw reply object (conformance tests use this). */
  async sendRaw(line: string, timeoutMs: number): Promise<unknown> {
    if (this.exited) throw new RunnerError("exited", `${this.framework}: ${this.exited}${this.tail()}`);
    this.child.stdin!.write(line.endsWith("\n") ? line : `${line}\n`);
    const next = await withTimeout(this.lines.next(), timeoutMs, () => {
      this.child.kill("SIGKILL");
      return new RunnerError("timeout", `${this.framework}: no reply within ${timeoutMs / 1000} s; runner killed${this.tail()}`);
    });
    if (next.done) {
      await this.child.catch(() => {});
      throw new RunnerError("exited", `${this.framework}: ${this.exited ?? "exited"} while serving a request${this.tail()}`);
    }
    try {
      return JSON.parse(next.value);
    } catch {
      throw new RunnerError("protocol", `${this.framework}: reply is not JSON: ${next.value.slice(0, 200)}`);
    }
  }

  private async call<S extends z.ZodType>(body: Record<string, unknown>, schema: S, timeoutMs: number): Promise<{ reply: z.infer<S>; roundTripNs: number }> {
    const id = this.nextId++;
    const start = process.hrtime.bigint();
    const raw = await this.sendRaw(JSON.stringify({ id, ...body }), timeoutMs);
    const roundTripNs = Number(process.hrtime.bigint() - start);
    const error = ErrorReply.safeParse(raw);
    if (error.success) throw new RunnerError("error_reply", `${this.framework}: ${error.data.error.kind}: ${error.data.error.message}`);
    const reply = parseLine(this.framework, raw, schema, () => "");
    if ((reply as { id: number }).id !== id) throw new RunnerError("protocol", `${this.framework}: reply id ${(reply as { id: number }).id} for request ${id}`);
    return { reply, roundTripNs };
  }

  generate(request: Omit<GenerateRequest, "id" | "op">, timeoutMs: number) {
    return this.call({ op: "generate", ...request }, GenerateReply, timeoutMs);
  }

  score(request: Omit<ScoreRequest, "id" | "op">, timeoutMs: number) {
    return this.call({ op: "score", ...request }, ScoreReply, timeoutMs);
  }

  /** Asks the runner to exit; kills it if it does not within a few seconds. */
  async shutdown(): Promise<void> {
    if (!this.exited) {
      try {
        await this.call({ op: "shutdown" }, ShutdownReply, 10_000);
      } catch {
        // fall through to kill
      }
    }
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await this.child.catch(() => {});
    clearTimeout(timer);
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }

  private tail(): string {
    return this.stderr.length ? `\n--- ${this.framework} stderr (last lines) ---\n${this.stderr.join("\n")}` : "";
  }
}

function parseLine<S extends z.ZodType>(framework: string, raw: unknown, schema: S, tail: () => string): z.infer<S> {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new RunnerError("protocol", `${framework}: stdout line is not JSON: ${raw.slice(0, 200)}${tail()}`);
    }
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new RunnerError("protocol", `${framework}: protocol violation: ${formatIssues(result.error)}${tail()}`);
  return result.data;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
