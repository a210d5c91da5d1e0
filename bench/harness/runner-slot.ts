// One framework label's place for a runner process over a run: the process is started on first use,
// restarted after a crash (recorded in the results file's restarts[]) so a crash fails only its own
// case, and retired after BENCH_RUNS_PER_PROCESS timed runs. The samplers that watch it (GPU power,
// process memory) and the results file its requests go to (opened at its first start) live here too,
// as does the longest a case can take on it, restarts included (the bench file's case timeout).
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { GpuPowerSampler, visibleGpuIndex } from "./host/power.ts";
import { ProcessMemorySampler } from "./host/memory/sampler.ts";
import { platformFacts } from "./host/platform.ts";
import type { BenchPlan } from "./plan.ts";
import { labelDtype } from "./precision.ts";
import { type ProfilerLaunch, profilerLaunch } from "./profiler.ts";
import { printProgress } from "./progress.ts";
import { resultsHeader, ResultsWriter, writeStartupFailure } from "./results-writer.ts";
import { RunnerError, RunnerProcess, type LaunchSpec } from "./runner-process.ts";
import type { Dtype } from "./schema/model-config.ts";
import type { QuantizationRecord, RunRecord } from "./schema/results.ts";
import { benchCacheDir, hostSettings } from "./settings.ts";
import { launchVariant, resolveVariant } from "./variants.ts";
import { worstCaseWarmups } from "./warmups.ts";

/** What the slot measured of its process during one request (a run record's fields). */
export type ProcessSamples = Pick<RunRecord, "gpu_energy_joules" | "process_memory_mb" | "process_memory_source" | "process_index">;

/** One label's runner process over a run, and what is recorded about it. */
export class RunnerSlot {
  readonly label: string;
  /** The dtype the runner is started with: the label's dtype flag, or the run's. */
  readonly requestedDtype: Dtype;
  private readonly plan: BenchPlan;
  private readonly launch: () => Promise<LaunchSpec>;
  /** Profiler environment, flags and stderr file (BENCH_PROFILER), or null when no profiler applies. */
  private readonly profiler: ProfilerLaunch | null;
  private runner: RunnerProcess | null = null;
  private writer: ResultsWriter | null = null;
  private power: GpuPowerSampler | null = null;
  /** Memory of the current runner process, measured from outside; replaced when the runner is. */
  private memory: ProcessMemorySampler | null = null;
  /** Where the current runner failed (set by a request that found it dead, hung or broken); null while it is sound. */
  private diedIn: { prompt_id: string; iteration: number | null } | null = null;
  /** Set when the runner is replaced (restart or retirement), cleared by its next warm-up (warmups.ts). */
  private replacedSinceWarmup = false;
  /** Index of the current runner process among this label's (0 = the first), -1 before any. */
  private processIndex = -1;
  /** Timed runs the current runner process has served (plan.runsPerProcess ends it after that many). */
  private timedInProcess = 0;
  private lastStartFailed = false;
  /** The quantized copy the runner was started on (a quantizing label flag), or null. */
  private startedQuantization: QuantizationRecord | null = null;

  /** `launch` defaults to the registered framework's; tests pass a fake runner's. */
  constructor(plan: BenchPlan, label: string, launch?: () => Promise<LaunchSpec>) {
    this.plan = plan;
    this.label = label;
    this.requestedDtype = labelDtype(label) ?? plan.dtype;
    this.launch = launch ?? (() => launchVariant(resolveVariant(label), plan.model.path, plan.dtype));
    // BENCH_PROFILER: the profiling switches of this runner's kind, its stderr kept beside their files.
    this.profiler = plan.profilers?.length && !launch ? profilerLaunch(plan.profilers, resolveVariant(label).framework.readyFramework, label, plan.runDir) : null;
  }

  /** True when the latest attempt to start the runner failed (a case stops trying then). */
  get startFailed(): boolean {
    return this.lastStartFailed;
  }

  /** The label's results file, opened when its runner first started; null before. */
  get results(): ResultsWriter | null {
    return this.writer;
  }

  /** The quantized copy the runner was started on, or null. */
  get quantization(): QuantizationRecord | null {
    return this.startedQuantization;
  }

  /** True when the runner was replaced and has served no warm-up since (warmups.ts repeats them). */
  get replaced(): boolean {
    return this.replacedSinceWarmup;
  }

  /**
   * The longest one case may take, milliseconds: every request at its own timeout (the runner is killed
   * past it): its warm-ups and their repetition after a restart, its timed runs, a time budget's
   * calibration request and the agreement `score`; and two runner starts (the first, one restart) at
   * the start-up timeout.
   */
  get worstCaseMs(): number {
    const { warmup_iterations, timed_iterations } = this.plan.profile;
    const requests = worstCaseWarmups(warmup_iterations) + timed_iterations + 2;
    return requests * this.plan.requestTimeoutMs + 2 * this.plan.startupTimeoutMs;
  }

  /**
   * The warm runner, started on first use or after a crash. A restart is recorded in the results
   * file (restarts[]) and marks the slot replaced until its next warm-up.
   */
  async ensure(): Promise<RunnerProcess> {
    if (this.runner && !this.runner.hasExited && this.diedIn === null) return this.runner;
    if (this.runner) await this.recordRestart(this.runner);
    let launched: LaunchSpec;
    try {
      // The launch itself may fail (a GGUF or quantized copy that could not be made): a start-up
      // failure like the runner's own, recorded for the report.
      launched = await this.launch();
      const spec = this.profiler ? { ...launched, args: [...launched.args, ...this.profiler.args], env: { ...launched.env, ...this.profiler.env } } : launched;
      if (this.profiler) mkdirSync(dirname(this.profiler.stderrFile), { recursive: true });
      const keepStderr = this.profiler ? (line: string) => appendFileSync(this.profiler!.stderrFile, line + "\n") : undefined;
      this.runner = await RunnerProcess.start(spec, this.plan.startupTimeoutMs, keepStderr);
      this.lastStartFailed = false;
      this.processIndex++;
      this.timedInProcess = 0;
    } catch (e) {
      this.lastStartFailed = true;
      const error = { prompt_id: null, iteration: null, kind: e instanceof RunnerError ? e.kind : "startup", message: (e as Error).message };
      if (this.writer) this.writer.addError(error);
      else writeStartupFailure(this.plan.runDir, this.label, error);
      throw e;
    }
    const { ready } = this.runner;
    this.startedQuantization = launched.quantization ?? null;
    this.writer ??= new ResultsWriter(this.plan.runDir, resultsHeader({ plan: this.plan, label: this.label, requestedDtype: this.requestedDtype, ready, quantization: this.startedQuantization }));
    // GPU power is sampled for GPU backends; without nvidia-smi the sampler stays inactive.
    const onGpu = ready.backend !== "cpu";
    if (!this.power && this.plan.gpuPower && onGpu) this.power = await GpuPowerSampler.shared(visibleGpuIndex(hostSettings()));
    this.memory?.stop();
    this.memory = this.runner.pid === undefined || this.plan.memorySampling === false ? null : await ProcessMemorySampler.start(this.runner.pid, { gpu: onGpu, nvidiaGpuIndex: (await platformFacts()).nvidiaGpu ? visibleGpuIndex(hostSettings()) : null, cacheDir: benchCacheDir() });
    printProgress(`[${this.label}] ready: ${ready.backend} / ${ready.device}, ${ready.dtype}, loaded in ${(ready.load_time_ms / 1000).toFixed(1)} s`);
    return this.runner;
  }

  /**
   * Notes a request that failed: an error reply leaves a sound runner; any other runner failure (it
   * exited, hung or broke the protocol) gets it replaced by the next `ensure`.
   */
  noteFailure(error: unknown, promptId: string, iteration: number | null): void {
    if (error instanceof RunnerError && error.kind !== "error_reply") this.diedIn ??= { prompt_id: promptId, iteration };
  }

  /**
   * Before a timed request: ends a sound runner whose process has served plan.runsPerProcess timed
   * runs, so the request starts a fresh one (repeating the warm-up) and each process's speed, which
   * differs from one process of the same binary to the next, is one sample among several (docs/gating.md).
   */
  async retireIfSpent(): Promise<void> {
    const perProcess = this.plan.runsPerProcess;
    if (!perProcess || !this.runner || this.timedInProcess < perProcess) return;
    await this.runner.shutdown();
    this.runner = null;
    this.replacedSinceWarmup = true;
    printProgress(`[${this.label}] runner process ${this.processIndex} served its ${this.timedInProcess} timed run${this.timedInProcess === 1 ? "" : "s"} (BENCH_RUNS_PER_PROCESS): starting a fresh one`);
  }

  /** Starts watching the process for one request (before it is sent); returns its start, `performance.now()` ms. */
  async beginRequest(): Promise<number> {
    await this.memory?.beginWindow();
    return performance.now();
  }

  /** What the samplers saw of the process since `beginRequest` returned `startMs`. */
  async endRequest(startMs: number): Promise<ProcessSamples> {
    const gpuEnergyJoules = (await this.power?.energyBetween(startMs, performance.now())) ?? null;
    const memory = await this.memory?.endWindow();
    return { gpu_energy_joules: gpuEnergyJoules, process_memory_mb: memory?.peak_mb ?? null, process_memory_source: memory?.source ?? null, process_index: this.processIndex };
  }

  /** Counts a request the process served: a timed run toward its retirement; a warm-up ends a replacement's wait. */
  served(warmup: boolean): void {
    if (warmup) this.replacedSinceWarmup = false;
    else this.timedInProcess++;
  }

  async close(): Promise<void> {
    this.power?.release();
    this.power = null;
    this.memory?.stop();
    await this.runner?.shutdown();
    this.runner = null;
  }

  /** Ends a dead or broken runner and records how it ended and where (results file restarts[]). */
  private async recordRestart(dead: RunnerProcess): Promise<void> {
    if (!dead.hasExited) dead.kill();
    const status = await dead.exitStatus();
    const where = this.diedIn ?? { prompt_id: null, iteration: null };
    this.writer?.addRestart({ ...where, exit_code: status.exitCode, signal: status.signal, stderr_tail: dead.stderrTail().split("\n").slice(-20).join("\n"), at: new Date().toISOString() });
    const place = where.prompt_id === null ? "between requests" : `on ${where.prompt_id}${where.iteration === null ? "" : `, request ${where.iteration}`}`;
    printProgress(`[${this.label}] runner ended (${status.signal ?? `exit code ${status.exitCode}`}) ${place}: restarting it; its warm-up is repeated before the next timed request`);
    this.runner = null;
    this.diedIn = null;
    this.replacedSinceWarmup = true;
  }
}
