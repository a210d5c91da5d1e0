import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { checkAgreement } from "./agreement.ts";
import { formatSecs, profileShape, RunnerBudget, type CasePlan, type CaseShape } from "./budget.ts";
import { etaLine, withElapsed } from "./progress.ts";
import { type ProfilerLaunch, profilerLaunch } from "./profiler.ts";
import { launchVariant, resolveVariant } from "./variants.ts";
import { labelDtype } from "./precision.ts";
import { harnessVersion } from "./version.ts";
import { collectProvenance } from "./provenance.ts";
import { runRecord } from "./measure.ts";
import { GpuPowerSampler, visibleGpuIndex } from "./host/power.ts";
import { frameworkMemoryMetric } from "./memory/framework-metric.ts";
import { ProcessMemorySampler } from "./host/memory/sampler.ts";
import { platformFacts } from "./host/platform.ts";
import { modelInfoFor } from "./model/validate.ts";
import { rotatesFrameworks, type BenchPlan } from "./plan.ts";
import { ResultsWriter, writeStartupFailure } from "./results-writer.ts";
import { RunnerError, RunnerProcess, type LaunchSpec } from "./runner-process.ts";
import type { AgreementRecord, QuantizationRecord, RunRecord } from "./schema/results.ts";
import type { Dtype } from "./schema/model-config.ts";
import type { TokenizedPrompt } from "./tokenize.ts";
import { rewarmRequests } from "./restart-policy.ts";
import { benchCacheDir, hostSettings } from "./settings.ts";

/** Reference tokens per prompt, filled by the first framework that runs each prompt. */
export interface ReferenceTokens {
  framework: string;
  /** True when the configured reference framework produced them; false for a stand-in. */
  isConfiguredReference: boolean;
  tokens: number[];
  /** The dtype its runner was started with (label flag or the run's); absent: this row's own. */
  dtype?: Dtype;
}

const progress = (line: string) => process.stderr.write(`${withElapsed(line)}\n`);

/**
 * One framework's part of a benchmark run: its warm runner process (restarted if it died in an
 * earlier case, so a crash fails only its own case) and its results file, rewritten after every run.
 */
export class FrameworkSession {
  readonly name: string;
  /** The dtype the runner is started with: the label's dtype flag, or the run's. */
  readonly requestedDtype: Dtype;
  private readonly plan: BenchPlan;
  private readonly launch: () => Promise<LaunchSpec>;
  private runner: RunnerProcess | null = null;
  private writer: ResultsWriter | null = null;
  private power: GpuPowerSampler | null = null;
  /** Memory of the current runner process, measured from outside; replaced when the runner is. */
  private memory: ProcessMemorySampler | null = null;
  /** Where the current runner failed (set by a request that found it dead, hung or broken); null while it is sound. */
  private diedIn: { prompt_id: string; iteration: number | null } | null = null;
  /** Set by a restart: the next timed request waits for a repeated warm-up (a fresh process's first requests are slow). */
  private rewarmPending = false;
  /** Index of the current runner process among this framework's (0 = the first), -1 before any. */
  private processIndex = -1;
  /** Timed runs the current runner process has served (plan.runsPerProcess ends it after that many). */
  private timedInProcess = 0;
  private lastStartFailed = false;
  /** The quantized copy the runner was started on (a quantizing label flag), or null. */
  private quantization: QuantizationRecord | null = null;
  /** The runner's time budget (the profile's), or null when every case runs the profile's counts. */
  private readonly budget: RunnerBudget | null;
  /** Profiler environment, flags and stderr file (BENCH_PROFILER), or null when no profiler applies. */
  private readonly profiler: ProfilerLaunch | null;

  /** `launch` defaults to the registered framework's; tests pass a fake runner's. */
  constructor(plan: BenchPlan, name: string, launch?: () => Promise<LaunchSpec>) {
    this.plan = plan;
    this.name = name;
    this.requestedDtype = labelDtype(name) ?? plan.dtype;
    this.launch = launch ?? (() => launchVariant(resolveVariant(name), plan.model.path, plan.dtype));
    // BENCH_PROFILER: the profiling switches of this runner's kind, its stderr kept beside their files.
    this.profiler = plan.profilers?.length && !launch ? profilerLaunch(plan.profilers, resolveVariant(name).framework.readyFramework, name, plan.runDir) : null;
    const { budget } = plan.profile;
    this.budget = budget ? new RunnerBudget(budget, plan.profile, plan.prompts.map((p) => ({ id: p.id, tokens: p.promptTokenIds.length }))) : null;
  }

  /** True when the latest attempt to start the runner failed (a case stops trying then). */
  get startFailed(): boolean {
    return this.lastStartFailed;
  }

  /**
   * The warm runner, started on first use or after a crash. A restart is recorded in the results
   * file (restarts[]) and makes the next timed request wait for a repeated warm-up (measure).
   */
  async ensureRunner(): Promise<RunnerProcess> {
    if (this.runner && !this.runner.hasExited && this.diedIn === null) return this.runner;
    if (this.runner) await this.recordRestart(this.runner);
    const launched = await this.launch();
    const spec = this.profiler ? { ...launched, args: [...launched.args, ...this.profiler.args], env: { ...launched.env, ...this.profiler.env } } : launched;
    if (this.profiler) mkdirSync(dirname(this.profiler.stderrFile), { recursive: true });
    const keepStderr = this.profiler ? (line: string) => appendFileSync(this.profiler!.stderrFile, line + "\n") : undefined;
    try {
      this.runner = await RunnerProcess.start(spec, this.plan.startupTimeoutMs, keepStderr);
      this.lastStartFailed = false;
      this.processIndex++;
      this.timedInProcess = 0;
    } catch (e) {
      this.lastStartFailed = true;
      const error = { prompt_id: null, iteration: null, kind: e instanceof RunnerError ? e.kind : "startup", message: (e as Error).message };
      if (this.writer) this.writer.addError(error);
      else writeStartupFailure(this.plan.runDir, this.name, error);
      throw e;
    }
    this.quantization = launched.quantization ?? null;
    this.writer ??= this.makeWriter(this.runner, this.quantization);
    // GPU power is sampled for GPU backends; without nvidia-smi the sampler stays inactive.
    if (!this.power && this.plan.gpuPower && this.runner.ready.backend !== "cpu") this.power = await GpuPowerSampler.shared(visibleGpuIndex(hostSettings()));
    this.memory?.stop();
    const onGpu = this.runner.ready.backend !== "cpu";
    this.memory = this.runner.pid === undefined || this.plan.memorySampling === false ? null : await ProcessMemorySampler.start(this.runner.pid, { gpu: onGpu, nvidiaGpuIndex: (await platformFacts()).nvidiaGpu ? visibleGpuIndex(hostSettings()) : null, cacheDir: benchCacheDir() });
    progress(`[${this.name}] ready: ${this.runner.ready.backend} / ${this.runner.ready.device}, ${this.runner.ready.dtype}, loaded in ${(this.runner.ready.load_time_ms / 1000).toFixed(1)} s`);
    return this.runner;
  }

  /** Notes that the runner failed during a request (it exited, hung or broke the protocol): the next ensureRunner replaces it. */
  private markDead(promptId: string, iteration: number | null): void {
    this.diedIn ??= { prompt_id: promptId, iteration };
  }

  /** Ends a dead or broken runner and records how it ended and where (results file restarts[]). */
  private async recordRestart(dead: RunnerProcess): Promise<void> {
    if (!dead.hasExited) dead.kill();
    const status = await dead.exitStatus();
    const where = this.diedIn ?? { prompt_id: null, iteration: null };
    this.writer?.addRestart({ ...where, exit_code: status.exitCode, signal: status.signal, stderr_tail: dead.stderrTail().split("\n").slice(-20).join("\n"), at: new Date().toISOString() });
    const place = where.prompt_id === null ? "between requests" : `on ${where.prompt_id}${where.iteration === null ? "" : `, request ${where.iteration}`}`;
    progress(`[${this.name}] runner ended (${status.signal ?? `exit code ${status.exitCode}`}) ${place}: restarting it; its warm-up is repeated before the next timed request`);
    this.runner = null;
    this.diedIn = null;
    this.rewarmPending = true;
  }

  /**
   * Ends a sound runner whose process has served plan.runsPerProcess timed runs: the next request
   * starts a fresh one (repeating the warm-up), so each process's speed, which differs from one
   * process of the same binary to the next, is one sample among several (docs/gating.md).
   */
  private async retireRunner(): Promise<void> {
    await this.runner?.shutdown();
    this.runner = null;
    this.rewarmPending = true;
    progress(`[${this.name}] runner process ${this.processIndex} served its ${this.timedInProcess} timed run${this.timedInProcess === 1 ? "" : "s"} (BENCH_RUNS_PER_PROCESS): starting a fresh one`);
  }

  /** The profile's cool-down, seconds (the scheduler waits it once per round when it rotates frameworks). */
  get cooldownSecs(): number {
    return this.plan.profile.cooldown_secs;
  }

  private makeWriter(runner: RunnerProcess, quantization: QuantizationRecord | null): ResultsWriter {
    const ready = runner.ready;
    const provenance = this.plan.provenance ?? collectProvenance();
    return new ResultsWriter(this.plan.runDir, {
      harness_version: harnessVersion(provenance.harness.commit),
      provenance,
      framework: this.name,
      framework_version: ready.framework_version,
      backend: ready.backend,
      device: ready.device,
      precision: ready.dtype,
      requested_precision: this.requestedDtype,
      fusion: ready.fusion,
      device_memory_metric: frameworkMemoryMetric(ready.framework, ready.backend),
      autotune: ready.autotune,
      ready,
      // A quantized copy's weight bytes are its own (the bandwidth ceiling's share uses them).
      model: quantization ? { ...modelInfoFor(this.plan.model, ready.dtype), weight_bytes: quantization.weight_bytes } : modelInfoFor(this.plan.model, ready.dtype),
      quantization,
      profile: this.plan.profileName,
      max_new_tokens: this.plan.profile.max_new_tokens,
      warmup_iterations: this.plan.profile.warmup_iterations,
      timed_iterations: this.plan.profile.timed_iterations,
      cooldown_secs: this.plan.profile.cooldown_secs,
      cooldown_per_round: rotatesFrameworks(this.plan),
      parallel_start: (this.plan.parallelStart ?? false) && rotatesFrameworks(this.plan),
      runs_per_process: this.plan.runsPerProcess ?? null,
      budget: this.plan.profile.budget ?? null,
      host: this.plan.host,
      started_at: new Date().toISOString(),
    });
  }

  /**
   * The requests of this framework's case for `prompt`: the profile's, or, under a time budget,
   * what fits the runner's budget left (its first request, a short warm-up, measures its speeds).
   * `warmupsDone` counts the warm-ups already run here (that first request).
   */
  async planCase(prompt: TokenizedPrompt): Promise<CasePlan & { warmupsDone: number }> {
    if (!this.budget) {
      const shape = profileShape(this.plan.profile);
      return { promptId: prompt.id, shape, trimmed: false, estimatedSecs: 0, warmupsDone: 0 };
    }
    let warmupsDone = 0;
    if (!this.budget.rates) {
      await this.measure(prompt, 0, this.budget.calibrationShape());
      warmupsDone = 1;
    }
    const planned = this.budget.plan(prompt.id, true);
    // The calibration request was this case's first warm-up.
    const plan = "shape" in planned && warmupsDone > planned.shape.warmupIterations
      ? { ...planned, shape: { ...planned.shape, warmupIterations: warmupsDone } }
      : planned;
    const shape = "shape" in plan ? plan.shape : null;
    this.writer!.addCase({
      prompt_id: prompt.id,
      warmup_iterations: shape?.warmupIterations ?? warmupsDone,
      warmup_new_tokens: shape?.warmupNewTokens ?? this.budget.calibrationShape().warmupNewTokens,
      timed_iterations: shape?.timedIterations ?? 0,
      max_new_tokens: shape?.maxNewTokens ?? 0,
      trimmed: "shape" in plan ? plan.trimmed : true,
      skipped: "skipped" in plan ? plan.skipped : null,
      estimated_secs: plan.estimatedSecs,
    });
    const what = shape
      ? `${shape.timedIterations} timed runs of ${shape.maxNewTokens} new tokens${"trimmed" in plan && plan.trimmed ? ` (trimmed from ${this.plan.profile.timed_iterations} × ${this.plan.profile.max_new_tokens})` : ""}, ≈${formatSecs(plan.estimatedSecs)}`
      : `not measured: ${"skipped" in plan ? plan.skipped : ""}`;
    progress(`[${this.name} ${prompt.id}] budget ${formatSecs(this.budget.remainingSecs)} of ${formatSecs(this.budget.budget.secs)} left: ${what}`);
    // This case's estimate, then what the later cases can spend of the budget left after it.
    const laterSecs = Math.min(Math.max(0, this.budget.remainingSecs - plan.estimatedSecs), this.laterEstimateSecs(prompt.id));
    progress(etaLine(this.plan, this.name, prompt.id, ("shape" in plan ? plan.estimatedSecs : 0) + laterSecs));
    return { ...plan, warmupsDone };
  }

  /** Estimated request seconds of this runner's cases after `promptId` at their full shape. */
  private laterEstimateSecs(promptId: string): number {
    const rates = this.budget?.rates;
    if (!rates || !this.budget) return 0;
    const index = this.plan.prompts.findIndex((p) => p.id === promptId);
    return this.plan.prompts.slice(index + 1).reduce((sum, p) => this.budget!.estimateSecs(p.promptTokenIds.length) + sum, 0);
  }

  /**
   * One generate request (used as the bench function): a warm-up while `iteration` is below the
   * shape's warm-up count, a timed run after. Both go to the results file as soon as they finish.
   */
  async measure(prompt: TokenizedPrompt, iteration: number, shape: CaseShape = profileShape(this.plan.profile), opts: { cooldown: boolean } = { cooldown: true }): Promise<RunRecord> {
    const { profile } = this.plan;
    const warmup = iteration < shape.warmupIterations;
    const index = warmup ? iteration : iteration - shape.warmupIterations;
    const newTokens = warmup ? shape.warmupNewTokens : shape.maxNewTokens;
    if (opts.cooldown && !warmup && index > 0 && profile.cooldown_secs > 0) await sleep(profile.cooldown_secs * 1000);
    const perProcess = this.plan.runsPerProcess;
    if (!warmup && perProcess && this.runner && this.timedInProcess >= perProcess) await this.retireRunner();
    const runner = await this.ensureRunner();
    if (this.rewarmPending && !warmup) {
      // After a restart no timed request is a fresh process's first: repeat the case's warm-ups
      // (at least one) with this prompt, as untimed warm-up runs.
      const repeats = rewarmRequests(shape);
      for (let k = 0; k < repeats; k++) await this.measure(prompt, k, { ...shape, warmupIterations: repeats });
    }
    await this.memory?.beginWindow();
    const startedAt = new Date();
    const startMs = performance.now();
    try {
      const { reply, roundTripNs } = await runner.generate(
        { prompt_token_ids: prompt.promptTokenIds, max_new_tokens: newTokens, ignore_eos: true },
        this.plan.requestTimeoutMs,
      );
      const record = runRecord({ promptId: prompt.id, iteration: index, promptTokenIds: prompt.promptTokenIds, maxNewTokens: newTokens, reply, roundTripNs, startedAt });
      this.budget?.record((performance.now() - startMs) / 1000, { prefillTps: record.prefill_tps, decodeTps: record.decode_tps });
      record.gpu_energy_joules = (await this.power?.energyBetween(startMs, performance.now())) ?? null;
      const memory = await this.memory?.endWindow();
      record.process_memory_mb = memory?.peak_mb ?? null;
      record.process_memory_source = memory?.source ?? null;
      record.process_index = this.processIndex;
      if (prompt.depth !== undefined) record.depth = prompt.depth;
      if (!warmup) this.timedInProcess++;
      this.writer!.addRun(record, warmup);
      if (warmup) this.rewarmPending = false;
      const phase = warmup ? `warm-up ${index + 1}/${shape.warmupIterations}` : `iteration ${index + 1}/${shape.timedIterations}`;
      progress(`[${this.name} ${prompt.id}] ${phase}: ${record.decode_tps.toFixed(1)} tok/s decode, TTFT ${(record.ttft_secs * 1000).toFixed(1)} ms`);
      return record;
    } catch (e) {
      // An error reply leaves a sound runner; any other runner failure replaces it.
      if (e instanceof RunnerError && e.kind !== "error_reply") this.markDead(prompt.id, index);
      this.writer?.addError({ prompt_id: prompt.id, iteration: index, kind: e instanceof RunnerError ? e.kind : "measurement", message: (e as Error).message });
      throw e;
    }
  }

  /**
   * Checks this framework's greedy tokens for a prompt against the reference's, teacher-forced top-1
   * included (a `score` request on the reference continuation), and records the result. `quantized`:
   * this label's weights are quantized and `reference` is its own framework's unquantized row.
   */
  async agreement(prompt: TokenizedPrompt, tokens: number[], reference: ReferenceTokens, quantized = false): Promise<AgreementRecord> {
    const runner = await this.ensureRunner();
    // Under a time budget the two may have generated different numbers of tokens: compare the common prefix.
    const compared = Math.min(tokens.length, reference.tokens.length);
    const referenceTokens = reference.tokens.slice(0, compared);
    const startMs = performance.now();
    const { reply } = await runner
      .score({ prompt_token_ids: prompt.promptTokenIds, continuation_token_ids: referenceTokens, top_k: this.plan.agreement.top_k }, this.plan.requestTimeoutMs)
      .catch((e: unknown) => {
        if (e instanceof RunnerError && e.kind !== "error_reply") this.markDead(prompt.id, null);
        throw e;
      });
    this.budget?.record((performance.now() - startMs) / 1000, null);
    const label = reference.isConfiguredReference ? reference.framework : `${reference.framework} (stand-in: ${this.plan.reference} did not run)`;
    const record = checkAgreement({
      promptId: prompt.id,
      reference: label,
      referenceTokens,
      tokens: tokens.slice(0, compared),
      teacherForcedArgmax: reply.argmax_ids,
      dtype: runner.ready.dtype,
      config: this.plan.agreement,
      quantized,
      quantizedBits: this.quantization?.bits ?? null,
      requestedDtypes: { row: this.requestedDtype, reference: reference.dtype ?? this.requestedDtype },
    });
    this.writer!.addAgreement(record);
    return record;
  }

  async close(): Promise<void> {
    this.power?.release();
    this.power = null;
    this.memory?.stop();
    await this.runner?.shutdown();
    this.runner = null;
  }
}
