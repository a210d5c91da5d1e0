import { setTimeout as sleep } from "node:timers/promises";
import { checkAgreement } from "./agreement.ts";
import { frameworkByName } from "./frameworks.ts";
import { harnessVersion } from "./version.ts";
import { collectProvenance } from "./provenance.ts";
import { runRecord } from "./measure.ts";
import { GpuPowerSampler, visibleGpuIndex } from "./power.ts";
import { modelInfoFor } from "./model/validate.ts";
import type { BenchPlan } from "./plan.ts";
import { ResultsWriter, writeStartupFailure } from "./results-writer.ts";
import { RunnerError, RunnerProcess, type LaunchSpec } from "./runner-process.ts";
import type { AgreementRecord, RunRecord } from "./schema/results.ts";
import type { TokenizedPrompt } from "./tokenize.ts";

/** Reference tokens per prompt, filled by the first framework that runs each prompt. */
export interface ReferenceTokens {
  framework: string;
  /** True when the configured reference framework produced them; false for a stand-in. */
  isConfiguredReference: boolean;
  tokens: number[];
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

/**
 * One framework's part of a benchmark run: its warm runner process (restarted if it died in an
 * earlier case, so a crash fails only its own case) and its results file, rewritten after every run.
 */
export class FrameworkSession {
  readonly name: string;
  private readonly plan: BenchPlan;
  private readonly launch: () => Promise<LaunchSpec>;
  private runner: RunnerProcess | null = null;
  private writer: ResultsWriter | null = null;
  private power: GpuPowerSampler | null = null;

  /** `launch` defaults to the registered framework's; tests pass a fake runner's. */
  constructor(plan: BenchPlan, name: string, launch?: () => Promise<LaunchSpec>) {
    this.plan = plan;
    this.name = name;
    this.launch = launch ?? (() => frameworkByName(name).launch(plan.model.path, plan.dtype));
  }

  /** The warm runner, started on first use or after a crash. */
  async ensureRunner(): Promise<RunnerProcess> {
    if (this.runner && !this.runner.hasExited) return this.runner;
    const spec = await this.launch();
    try {
      this.runner = await RunnerProcess.start(spec, this.plan.startupTimeoutMs);
    } catch (e) {
      const error = { prompt_id: null, iteration: null, kind: e instanceof RunnerError ? e.kind : "startup", message: (e as Error).message };
      if (this.writer) this.writer.addError(error);
      else writeStartupFailure(this.plan.runDir, this.name, error);
      throw e;
    }
    this.writer ??= this.makeWriter(this.runner);
    // GPU power is sampled for GPU backends; without nvidia-smi the sampler stays inactive.
    if (!this.power && this.plan.gpuPower && this.runner.ready.backend !== "cpu") this.power = await GpuPowerSampler.start(visibleGpuIndex());
    progress(`[${this.name}] ready: ${this.runner.ready.backend} / ${this.runner.ready.device}, ${this.runner.ready.dtype}, loaded in ${(this.runner.ready.load_time_ms / 1000).toFixed(1)} s`);
    return this.runner;
  }

  private makeWriter(runner: RunnerProcess): ResultsWriter {
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
      requested_precision: this.plan.dtype,
      fusion: ready.fusion,
      autotune: ready.autotune,
      ready,
      model: modelInfoFor(this.plan.model, ready.dtype),
      profile: this.plan.profileName,
      max_new_tokens: this.plan.profile.max_new_tokens,
      warmup_iterations: this.plan.profile.warmup_iterations,
      timed_iterations: this.plan.profile.timed_iterations,
      cooldown_secs: this.plan.profile.cooldown_secs,
      host: this.plan.host,
      started_at: new Date().toISOString(),
    });
  }

  /**
   * One timed generate request (used as the bench function). Warm-ups and timed runs go to the
   * results file as soon as they finish.
   */
  async measure(prompt: TokenizedPrompt, iteration: number): Promise<RunRecord> {
    const { profile } = this.plan;
    const warmup = iteration < profile.warmup_iterations;
    const index = warmup ? iteration : iteration - profile.warmup_iterations;
    if (!warmup && index > 0 && profile.cooldown_secs > 0) await sleep(profile.cooldown_secs * 1000);
    const runner = await this.ensureRunner();
    const startedAt = new Date();
    const startMs = performance.now();
    try {
      const { reply, roundTripNs } = await runner.generate(
        { prompt_token_ids: prompt.promptTokenIds, max_new_tokens: profile.max_new_tokens, ignore_eos: true },
        this.plan.requestTimeoutMs,
      );
      const record = runRecord({ promptId: prompt.id, iteration: index, promptTokenIds: prompt.promptTokenIds, maxNewTokens: profile.max_new_tokens, reply, roundTripNs, startedAt });
      record.gpu_energy_joules = (await this.power?.energyBetween(startMs, performance.now())) ?? null;
      this.writer!.addRun(record, warmup);
      const phase = warmup ? `warm-up ${index + 1}/${profile.warmup_iterations}` : `iteration ${index + 1}/${profile.timed_iterations}`;
      progress(`[${this.name} ${prompt.id}] ${phase}: ${record.decode_tps.toFixed(1)} tok/s decode, TTFT ${(record.ttft_secs * 1000).toFixed(1)} ms`);
      return record;
    } catch (e) {
      this.writer?.addError({ prompt_id: prompt.id, iteration: index, kind: e instanceof RunnerError ? e.kind : "measurement", message: (e as Error).message });
      throw e;
    }
  }

  /**
   * Checks this framework's greedy tokens for a prompt against the reference's, teacher-forced top-1
   * included (a `score` request on the reference continuation), and records the result.
   */
  async agreement(prompt: TokenizedPrompt, tokens: number[], reference: ReferenceTokens): Promise<AgreementRecord> {
    const runner = await this.ensureRunner();
    const { reply } = await runner.score(
      { prompt_token_ids: prompt.promptTokenIds, continuation_token_ids: reference.tokens, top_k: this.plan.agreement.top_k },
      this.plan.requestTimeoutMs,
    );
    const label = reference.isConfiguredReference ? reference.framework : `${reference.framework} (stand-in: ${this.plan.reference} did not run)`;
    const record = checkAgreement({
      promptId: prompt.id,
      reference: label,
      referenceTokens: reference.tokens,
      tokens,
      teacherForcedArgmax: reply.argmax_ids,
      dtype: runner.ready.dtype,
      config: this.plan.agreement,
    });
    this.writer!.addAgreement(record);
    return record;
  }

  async close(): Promise<void> {
    this.power?.stop();
    await this.runner?.shutdown();
    this.runner = null;
  }
}
