import type { Dtype } from "../schema/model-config.ts";
import type { LaunchSpec } from "../runner-process.ts";

/**
 * A framework's own way of timing decode (its benchmark tool, or its decode loop called directly),
 * driven by `qwen3-bench fidelity --run` beside our runner of that framework. An adapter is a
 * command line and a parser of what the command prints; it never computes a speed the tool did not
 * time (each parser says which of the tool's figures it reads and how it becomes decode tok/s).
 */

/** A prompt as the tools get it: the harness's token ids (what every runner receives). */
export interface ToolPrompt {
  id: string;
  ids: number[];
}

/** What one invocation runs: new tokens per generation, untimed warm-ups and timed repeats per prompt. */
export interface ToolShape {
  newTokens: number;
  warmup: number;
  repeats: number;
}

/** The setting a tool runs in: our runner's label resolved to its command, the model and the run's folder. */
export interface ToolContext {
  /** Our runner's label ("burn-cuda[kernels=custom]"): the fidelity records' `runner`. */
  label: string;
  /** Our runner's launch command (its program or Python, and arguments with the label's flags). */
  launch: LaunchSpec;
  /** The label's runner-flag arguments alone (`--kernels custom`). */
  flagArgs: string[];
  /** The model the run names. */
  modelDir: string;
  /** The folder our runner loads for this label: modelDir, or a copy the harness made (mlx-lm[quant=4bit]'s quantized copy). */
  runnerModelDir: string;
  /** The label's dtype (its `dtype` flag), else the run's. */
  dtype: Dtype;
  /** The folder the tool loads: runnerModelDir, or what the tool's `model` made from it (a converted copy). */
  toolModelDir: string;
  /** Folder of this fidelity run: tools write their inputs there. */
  outDir: string;
  /** Greedy tokens of the tools run before, by prompt id, for a tool that checks against them (teacher forcing). */
  referenceTokens: Map<string, number[]>;
}

/** A command to run: program and arguments (the environment is the harness's own). */
export interface Invocation {
  command: string;
  args: string[];
}

/** One timed generation as the tool measured it. */
export interface ToolRun {
  promptId: string;
  /** Prompt tokens the tool ran with (its own prompt may differ from the harness's ids: see promptIds). */
  promptTokens: number;
  repeat: number;
  /** Decode tok/s after the first token, by the tool's own timing, as the adapter states it. */
  decodeTps: number;
  /** Prompt tokens per second (prefill), where the tool reports it: the budget's planner uses it. */
  prefillTps?: number;
  /** Greedy ids, where the tool returns them. */
  tokenIds?: number[];
  /** The tool's raw figures, kept in the record. */
  raw: Record<string, unknown>;
}

export interface ToolOutput {
  meta: { framework_version?: string; device?: string | null; notes: string[] } | null;
  runs: ToolRun[];
  /** Teacher-forced argmax on the reference tokens, by prompt id (the harness's `score`), where the tool computed it. */
  teacherForced: Map<string, number[]>;
}

/** What every tool is: its name and how it runs (a command whose output is parsed, or a measurement in this process). */
interface ToolBase {
  /** The tool as the table names it ("mlx_lm.benchmark", "burn --self-bench"). */
  name: string;
  /** True when the tool runs our runner's code path (target: within 3 %); false for another path. */
  sameCodePath: boolean;
  /**
   * The prompt the tool decodes after: the harness's ids, or its own of the same length (0..P−1,
   * random ids, or an empty cache filled to depth P). Tokens are compared only between tools that
   * decode after the same ids.
   */
  promptIds: "harness" | "0..P-1" | "random" | "depth";
  /** What the table should say about how the tool times (added to its meta record's notes). */
  notes: string[];
  /** One invocation per prompt (the budget shapes later prompts from the first's speed), or all prompts in one process. */
  perPrompt: boolean;
  /** Why this tool cannot run our runner's label as it is (flags it cannot pass), or null. */
  refuses?(ctx: ToolContext): string | null;
  /** The folder the tool loads, made once where it needs its own (a converted copy, cached); the context's toolModelDir. Default: runnerModelDir. */
  model?(ctx: ToolContext): Promise<string>;
  /** Commands to run once before the first invocation, with their purpose. */
  prepare?(ctx: ToolContext): Array<{ what: string; invocation: Invocation }>;
}

/** A framework's own tool: a command, and a parser of what it prints. */
export interface CommandTool extends ToolBase {
  invocation(ctx: ToolContext, prompts: ToolPrompt[], shape: ToolShape): Invocation;
  /** Reads the tool's stdout (whole or cut short by a timeout); throws only on output it cannot read at all. */
  parse(stdout: string, prompts: ToolPrompt[], shape: ToolShape): ToolOutput;
  measure?: never;
}

/** Our own runner, measured in this process by the benchmark's own code (ours.ts). */
export interface InProcessTool extends ToolBase {
  measure(ctx: ToolContext, prompts: ToolPrompt[], shape: ToolShape): Promise<ToolOutput>;
  invocation?: never;
  parse?: never;
}

export type FidelityTool = CommandTool | InProcessTool;
