import { setTimeout as sleep } from "node:timers/promises";
import { checkAgreement, labelQuantizedBits } from "./agreement.ts";
import { formatSecs, profileShape, RunnerBudget, type CasePlan, type CaseShape } from "./budget.ts";
import { etaLine, printProgress } from "./progress.ts";
import { runRecord } from "./measure.ts";
import type { BenchPlan } from "./plan.ts";
import { RunnerSlot } from "./runner-slot.ts";
import { RunnerError, type LaunchSpec, type RunnerProcess } from "./runner-process.ts";
import type { AgreementRecord, RunRecord } from "./schema/results.ts";
import type { Dtype } from "./schema/model-config.ts";
import type { TokenizedPrompt } from "./tokenize.ts";
import { resolveVariant } from "./variants.ts";
import { startAfterWarmups, warmupsNeeded } from "./warmups.ts";

/** Reference tokens per prompt, filled by the first framework that runs each prompt. */
export interface ReferenceTokens {
  framework: string;
  /** True when the configured reference framework produced them; false for a stand-in. */
  isConfiguredReference: boolean;
  tokens: number[];
  /** The dtype its runner was started with (label flag or the run's); absent: this row's own. */
  dtype?: Dtype;
}

/** A case as planned: its shape and the index of its first request still to send (warm-ups already served come before it), or why it is skipped. */
export type PlannedCase = (Extract<CasePlan, { shape: CaseShape }> & { firstRequest: number }) | Extract<CasePlan, { skipped: string }>;

/**
 * One framework's part of a benchmark run: its cases planned (under a time budget, from the speeds
 * its runner showed), measured and checked for agreement, on its runner slot (runner-slot.ts: the warm
 * process, its restarts, and the results file every request is written to as soon as it finishes).
 */
export class FrameworkSession {
  readonly name: string;
  /** The dtype the runner is started with: the label's dtype flag, or the run's. */
  readonly requestedDtype: Dtype;
  private readonly plan: BenchPlan;
  private readonly slot: RunnerSlot;
  /** The runner's time budget (the profile's), or null when every case runs the profile's counts. */
  private readonly budget: RunnerBudget | null;

  /** `launch` defaults to the registered framework's; tests pass a fake runner's. */
  constructor(plan: BenchPlan, name: string, launch?: () => Promise<LaunchSpec>) {
    this.plan = plan;
    this.name = name;
    this.slot = new RunnerSlot(plan, name, launch);
    this.requestedDtype = this.slot.requestedDtype;
    const { budget } = plan.profile;
    this.budget = budget ? new RunnerBudget(budget, plan.profile, plan.prompts.map((p) => ({ id: p.id, tokens: p.promptTokenIds.length }))) : null;
  }

  /** True when the latest attempt to start the runner failed (a case stops trying then). */
  get startFailed(): boolean {
    return this.slot.startFailed;
  }

  /** The profile's cool-down, seconds (the scheduler waits it once per round when it rotates frameworks). */
  get cooldownSecs(): number {
    return this.plan.profile.cooldown_secs;
  }

  /** The longest one of this framework's cases may take, milliseconds (its runner slot's worst case). */
  get worstCaseMs(): number {
    return this.slot.worstCaseMs;
  }

  /** The warm runner, started on first use or after a crash (runner-slot.ts). */
  ensureRunner(): Promise<RunnerProcess> {
    return this.slot.ensure();
  }

  /**
   * The requests of this framework's case for `prompt`: the profile's, or, under a time budget,
   * what fits the runner's budget left (its first request, a short warm-up, measures its speeds and
   * counts as this case's first warm-up).
   */
  async planCase(prompt: TokenizedPrompt): Promise<PlannedCase> {
    if (!this.budget) return { promptId: prompt.id, trimmed: false, estimatedSecs: 0, ...startAfterWarmups(profileShape(this.plan.profile), 0) };
    let warmupsDone = 0;
    if (!this.budget.rates) {
      await this.measure(prompt, 0, this.budget.calibrationShape());
      warmupsDone = 1;
    }
    const planned = this.budget.plan(prompt.id, true);
    const plan: PlannedCase = "shape" in planned ? { ...planned, ...startAfterWarmups(planned.shape, warmupsDone) } : planned;
    const shape = "shape" in plan ? plan.shape : null;
    this.slot.results!.addCase({
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
    printProgress(`[${this.name} ${prompt.id}] budget ${formatSecs(this.budget.remainingSecs)} of ${formatSecs(this.budget.budget.secs)} left: ${what}`);
    // This case's estimate, then what the later cases can spend of the budget left after it.
    const laterSecs = Math.min(Math.max(0, this.budget.remainingSecs - plan.estimatedSecs), this.laterEstimateSecs(prompt.id));
    printProgress(etaLine(this.plan, this.name, prompt.id, ("shape" in plan ? plan.estimatedSecs : 0) + laterSecs));
    return plan;
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
    if (!warmup) await this.slot.retireIfSpent();
    const runner = await this.slot.ensure();
    // A timed request on a replaced runner first repeats the case's warm-ups with this prompt, as untimed warm-up runs.
    const rewarm = warmup ? 0 : warmupsNeeded({ planned: shape.warmupIterations, done: shape.warmupIterations, replaced: this.slot.replaced });
    for (let k = 0; k < rewarm; k++) await this.measure(prompt, k, { ...shape, warmupIterations: rewarm });
    const startedAt = new Date();
    const startMs = await this.slot.beginRequest();
    try {
      const { reply, roundTripNs } = await runner.generate(
        { prompt_token_ids: prompt.promptTokenIds, max_new_tokens: newTokens, ignore_eos: true },
        this.plan.requestTimeoutMs,
      );
      const record = runRecord({ promptId: prompt.id, iteration: index, promptTokenIds: prompt.promptTokenIds, maxNewTokens: newTokens, reply, roundTripNs, startedAt });
      this.budget?.record((performance.now() - startMs) / 1000, { prefillTps: record.prefill_tps, decodeTps: record.decode_tps });
      Object.assign(record, await this.slot.endRequest(startMs));
      if (prompt.depth !== undefined) record.depth = prompt.depth;
      this.slot.served(warmup);
      this.slot.results!.addRun(record, warmup);
      const phase = warmup ? `warm-up ${index + 1}/${shape.warmupIterations}` : `iteration ${index + 1}/${shape.timedIterations}`;
      printProgress(`[${this.name} ${prompt.id}] ${phase}: ${record.decode_tps.toFixed(1)} tok/s decode, TTFT ${(record.ttft_secs * 1000).toFixed(1)} ms`);
      return record;
    } catch (e) {
      this.slot.noteFailure(e, prompt.id, index);
      this.slot.results?.addError({ prompt_id: prompt.id, iteration: index, kind: e instanceof RunnerError ? e.kind : "measurement", message: (e as Error).message });
      throw e;
    }
  }

  /**
   * Checks this framework's greedy tokens for a prompt against the reference's, teacher-forced top-1
   * included (a `score` request on the reference continuation), and records the result. `quantized`:
   * this label's weights are quantized and `reference` is its own framework's unquantized row.
   */
  async agreement(prompt: TokenizedPrompt, tokens: number[], reference: ReferenceTokens, quantized = false): Promise<AgreementRecord> {
    const runner = await this.slot.ensure();
    // Under a time budget the two may have generated different numbers of tokens: compare the common prefix.
    const compared = Math.min(tokens.length, reference.tokens.length);
    const referenceTokens = reference.tokens.slice(0, compared);
    const startMs = performance.now();
    const { reply } = await runner
      .score({ prompt_token_ids: prompt.promptTokenIds, continuation_token_ids: referenceTokens, top_k: this.plan.agreement.top_k }, this.plan.requestTimeoutMs)
      .catch((e: unknown) => {
        this.slot.noteFailure(e, prompt.id, null);
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
      quantizedBits: this.slot.quantization?.bits ?? (quantized ? labelQuantizedBits(this.name, resolveVariant(this.name).framework.flags) : null),
      requestedDtypes: { row: this.requestedDtype, reference: reference.dtype ?? this.requestedDtype },
    });
    this.slot.results!.addAgreement(record);
    return record;
  }

  close(): Promise<void> {
    return this.slot.close();
  }
}
