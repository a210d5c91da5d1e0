import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { formatSecs, type RunnerRates } from "../budget.ts";
import { harnessCommit } from "../provenance.ts";
import { labelFileStem } from "../framework-label.ts";
import type { AgreementConfig } from "../schema/prompts.ts";
import type { Dtype } from "../schema/model-config.ts";
import type { FidelityRecord } from "../schema/fidelity.ts";
import { launchVariant, probeVariant, type Variant } from "../variants.ts";
import { median } from "../../stats/median.ts";
import { runLimited, type LimitedRun } from "../host/command.ts";
import { TokenReferences } from "./references.ts";
import { planToolShape } from "./shape.ts";
import type { FidelityTool, Invocation, ToolContext, ToolOutput, ToolPrompt, ToolShape } from "./tool.ts";
import { toolsFor } from "./tools.ts";
import { oursTool } from "./ours.ts";

/**
 * `qwen3-bench fidelity --run`: each framework's own tool (tools.ts) beside our runners, in the
 * harness's terms: runners named by harness labels (variants.ts resolves them, flags and builds
 * included), the harness's prompts, the per-runner time budget's planner (budget.ts) per tool, the
 * agreement rule (agreement.ts) for the tokens the tools return. Writes fidelity.jsonl
 * (schema/fidelity.ts), which `qwen3-bench fidelity RESULTS FIDELITY_JSONL` and the report read.
 */
export interface FidelityRunOptions {
  variants: Variant[];
  modelDir: string;
  dtype: Dtype;
  prompts: ToolPrompt[];
  newTokens: number;
  warmup: number;
  repeats: number;
  /** Rounds over every tool (1: each tool once; k: the tools interleaved process by process, k times). */
  rounds: number;
  /** Time our runner too (ours.ts), as each label's first tool of every round; false: the tools alone (--tools-only). */
  ours: boolean;
  /** Seconds each tool may spend over all rounds (its processes' wall time, loads included). */
  toolBudgetSecs: number;
  /** Seconds the whole run may spend. */
  budgetSecs: number;
  agreement: AgreementConfig;
  outDir: string;
  /** The command line, for the run's meta record. */
  command: string[];
  /** Progress lines (stderr). */
  log: (line: string) => void;
}

/** What a tool needs of our runner's label: its launch command (flags, build), the folder it loads, its dtype. */
async function toolContext(variant: Variant, opts: FidelityRunOptions): Promise<ToolContext> {
  const launch = await launchVariant(variant, opts.modelDir, opts.dtype);
  const flagArgs = variant.flags.flatMap(([name, value]) => variant.framework.flags![name].args(value));
  // The folder our runner loads: the model, or a copy the harness made for the label (mlx-lm[quant=4bit]).
  const model = launch.args.indexOf("--model");
  const runnerModelDir = model >= 0 ? launch.args[model + 1] : opts.modelDir;
  return {
    label: variant.label, launch, flagArgs, modelDir: opts.modelDir, runnerModelDir,
    dtype: variant.dtype ?? opts.dtype, toolModelDir: runnerModelDir, outDir: opts.outDir, referenceTokens: new Map(),
  };
}

/** The tail of a log, for an error record. */
const logTail = (stdout: string, lines = 4) => stdout.trim().split("\n").slice(-lines).join(" | ");

export async function runFidelity(opts: FidelityRunOptions): Promise<FidelityRecord[]> {
  mkdirSync(opts.outDir, { recursive: true });
  const jsonl = join(opts.outDir, "fidelity.jsonl");
  writeFileSync(jsonl, "");
  const records: FidelityRecord[] = [];
  const add = (record: FidelityRecord) => {
    records.push(record);
    appendFileSync(jsonl, JSON.stringify(record) + "\n");
  };
  const started = Date.now();
  const elapsedSecs = () => (Date.now() - started) / 1000;
  const commit = harnessCommit();
  add({
    record: "meta", tool: "qwen3-bench fidelity --run", runner: null, harness_commit: commit.commit, dirty: commit.dirty, host: hostname(),
    started_at: new Date(started).toISOString(), command: opts.command, model: opts.modelDir, dtype: opts.dtype, new_tokens: opts.newTokens,
    repeats: opts.repeats, warmup: opts.warmup, rounds: opts.rounds, prompt_tokens: opts.prompts.map((p) => p.ids.length),
  });

  // Every (label, tool) pair with what it needs across rounds.
  interface Slot { variant: Variant; tool: FidelityTool; ctx: ToolContext | null; spentSecs: number; rates: RunnerRates | null; device: string | null; dead: string | null }
  const slots: Slot[] = [];
  for (const variant of opts.variants) {
    const tools = toolsFor(variant.framework.name);
    if (!tools.length) {
      add({ record: "error", tool: "(none)", runner: variant.label, prompt_tokens: null, message: `no fidelity tool for ${variant.framework.name} (tools: bench/harness/fidelity/tools.ts)` });
      continue;
    }
    for (const tool of opts.ours ? [oursTool, ...tools] : tools) slots.push({ variant, tool, ctx: null, spentSecs: 0, rates: null, device: null, dead: null });
  }

  const references = new TokenReferences(opts.agreement);

  for (let round = 0; round < opts.rounds; round++) {
    for (const slot of slots) {
      if (slot.dead) continue;
      const { variant, tool } = slot;
      const error = (message: string, promptTokens: number | null = null) =>
        add({ record: "error", tool: tool.name, runner: variant.label, prompt_tokens: promptTokens, message });
      const logFile = join(opts.outDir, `${labelFileStem(variant.label)}.${tool.name.replace(/[^A-Za-z0-9_.-]+/g, "-")}.log`);
      const limit = () => Math.min(opts.toolBudgetSecs - slot.spentSecs, opts.budgetSecs - elapsedSecs());
      const timed = async (invocation: Invocation): Promise<LimitedRun> => {
        const t0 = Date.now();
        const finished = limit() < 1 ? { code: null, stdout: "", why: "not started: its budget is spent" } : await runLimited(invocation.command, invocation.args, limit(), logFile);
        slot.spentSecs += (Date.now() - t0) / 1000;
        return finished;
      };
      const describe = (meta: NonNullable<ToolOutput["meta"]>) => {
        if (slot.device !== null) return;
        slot.device = meta.device ?? variant.label;
        add({ record: "meta", tool: tool.name, runner: variant.label, same_code_path: tool.sameCodePath, framework_version: meta.framework_version, device: meta.device ?? null, dtype: variant.dtype ?? opts.dtype, notes: [...tool.notes, ...meta.notes] });
      };
      const failure = (f: LimitedRun) => `${f.code !== null ? `exit ${f.code}` : f.why}: ${logTail(f.stdout) || `see ${logFile}`}`;

      if (!slot.ctx) {
        const availability = await probeVariant(variant);
        if (!availability.available) {
          slot.dead = `${variant.label} is not available here: ${availability.reason}`;
          error(slot.dead);
          continue;
        }
        const ctx = await toolContext(variant, opts);
        const refused = tool.refuses?.(ctx) ?? null;
        if (refused) {
          slot.dead = refused;
          error(refused);
          continue;
        }
        if (tool.model) {
          opts.log(`[fidelity] ${variant.label} / ${tool.name}: the model it loads`);
          try {
            ctx.toolModelDir = await tool.model(ctx);
          } catch (e) {
            slot.dead = `the model ${tool.name} loads: ${(e as Error).message}`;
            error(slot.dead);
            continue;
          }
        }
        let meta: ToolOutput["meta"] = null;
        for (const step of tool.prepare?.(ctx) ?? []) {
          opts.log(`[fidelity] ${variant.label} / ${tool.name}: ${step.what}`);
          const f = await timed(step.invocation);
          if (f.code !== 0) {
            slot.dead = `${step.what}: ${failure(f)}`;
            break;
          }
          meta = parseMeta(f.stdout) ?? meta;
        }
        if (slot.dead) {
          error(slot.dead);
          continue;
        }
        slot.ctx = ctx;
        if (meta) describe(meta);
      }
      const ctx = slot.ctx;
      const keep = (output: ToolOutput, shape: ToolShape) => {
        if (output.meta) describe(output.meta);
        for (const run of output.runs) {
          add({
            record: "run", tool: tool.name, runner: variant.label, same_code_path: tool.sameCodePath, prompt_tokens: run.promptTokens, new_tokens: shape.newTokens,
            repeat: round * opts.repeats + run.repeat, decode_tps: run.decodeTps, dtype: ctx.dtype, prompt_id: run.promptId, round, ...run.raw,
          });
          if (run.tokenIds && run.repeat === 0 && round === 0) agree(run.promptId, run.tokenIds, output.teacherForced.get(run.promptId) ?? null);
        }
        const decode = output.runs.map((r) => r.decodeTps);
        const prefill = output.runs.map((r) => r.prefillTps).filter((t): t is number => t !== undefined && t > 0);
        if (decode.length) slot.rates = { decodeTps: median(decode), prefillTps: prefill.length ? median(prefill) : Infinity };
      };
      const agree = (promptId: string, tokens: number[], teacherForced: number[] | null) => {
        const prompt = opts.prompts.find((p) => p.id === promptId);
        const record = prompt ? references.check({ tool, variant, dtype: ctx.dtype, device: slot.device ?? variant.label, prompt, tokens, teacherForced }) : null;
        if (record) add(record);
      };
      ctx.referenceTokens = references.tokensFor(tool, variant, ctx.dtype, opts.prompts);

      // The tool's invocations this round: all prompts in one, or one per prompt shaped by the budget's planner.
      const batches = tool.perPrompt ? opts.prompts.map((p) => [p]) : [opts.prompts];
      const fullShape: ToolShape = { newTokens: opts.newTokens, warmup: opts.warmup, repeats: opts.repeats };
      for (const [b, prompts] of batches.entries()) {
        const plan = tool.perPrompt
          ? planToolShape({
              full: fullShape, promptId: prompts[0].id, promptTokens: prompts[0].ids.length, laterPromptTokens: batches.slice(b + 1).map((later) => later[0].ids.length),
              remainingSecs: limit(), budgetSecs: opts.toolBudgetSecs, rates: slot.rates,
            })
          : { shape: fullShape };
        if ("skipped" in plan) {
          error(`skipped: ${plan.skipped}`, prompts[0].ids.length);
          continue;
        }
        const shape = plan.shape;
        opts.log(`[fidelity] round ${round + 1}/${opts.rounds}: ${variant.label} / ${tool.name}: ${prompts.map((p) => `${p.id} (${p.ids.length})`).join(", ")}, ${shape.repeats} × ${shape.newTokens} tokens`);
        if (tool.measure) {
          const t0 = Date.now();
          try {
            keep(await tool.measure(ctx, prompts, shape), shape);
          } catch (e) {
            error((e as Error).message, tool.perPrompt ? prompts[0].ids.length : null);
          }
          slot.spentSecs += (Date.now() - t0) / 1000;
          continue;
        }
        let invocation: Invocation;
        try {
          invocation = tool.invocation(ctx, prompts, shape);
        } catch (e) {
          error((e as Error).message, tool.perPrompt ? prompts[0].ids.length : null);
          continue;
        }
        const f = await timed(invocation);
        let output: ToolOutput;
        try {
          output = tool.parse(f.stdout, prompts, shape);
        } catch (e) {
          error(`output not understood: ${(e as Error).message}`, tool.perPrompt ? prompts[0].ids.length : null);
          continue;
        }
        keep(output, shape);
        const expected = prompts.length * shape.repeats;
        if (f.code !== 0 || output.runs.length !== expected) {
          error(`${failure(f)} (${output.runs.length} of ${expected} timed runs)`, tool.perPrompt ? prompts[0].ids.length : null);
        }
      }
    }
  }
  opts.log(`[fidelity] ${jsonl} (${formatSecs(elapsedSecs())})`);
  return records;
}

/** A `{"kind": "meta", ...}` line a prepare step printed, if any. */
function parseMeta(stdout: string): ToolOutput["meta"] {
  for (const line of stdout.split("\n")) {
    if (!line.startsWith('{"kind": "meta"')) continue;
    const value = JSON.parse(line) as { framework_version?: string; device?: string; notes?: string[] };
    return { framework_version: value.framework_version, device: value.device ?? null, notes: value.notes ?? [] };
  }
  return null;
}
