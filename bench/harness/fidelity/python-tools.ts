import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { decodeTps } from "../measure.ts";
import { RUNNERS_DIR } from "../paths.ts";
import type { CommandTool, Invocation, ToolContext, ToolOutput, ToolPrompt, ToolShape } from "./tool.ts";

/**
 * The decode loops we drive in the framework's own Python (the runner's venv or the host's Python,
 * as the harness would launch our runner): runners/torch/fidelity_tools.py (transformers
 * `generate()`, torch-fast's loop) and runners/mlx-lm/fidelity_loops.py (mlx-lm's `generate_step`
 * and `stream_generate` loops). They live beside the runners because they import the runner's code
 * (the torch-fast model, the mlx-lm runner's loader) and run in its Python; they print JSON lines,
 * parsed here.
 */

const Line = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("meta"), framework_version: z.string(), device: z.string(), notes: z.array(z.string()) }),
  z.object({
    kind: z.literal("run"),
    prompt_id: z.string(),
    repeat: z.int().nonnegative(),
    token_ids: z.array(z.int()),
    /** Nanoseconds from the call to each id on the host (a loop's own timing). */
    token_times_ns: z.array(z.number()).optional(),
    /** Wall time of generate() with 1, 2 and N new tokens, ns (generate() timed from outside; T(2) kept as raw data). */
    t1_ns: z.number().positive().optional(),
    t2_ns: z.number().positive().optional(),
    tn_ns: z.number().positive().optional(),
  }),
  z.object({ kind: z.literal("teacher_forced"), prompt_id: z.string(), argmax_ids: z.array(z.int()) }),
]);

/**
 * Parses the adapters' lines. Decode tok/s: per-token times by the protocol's formula,
 * (N − 1) / (t_N − t_1); generate() timed from outside, (N − 1) / (T(N) − T(1)). A line that is
 * not one of ours (library chatter on stdout) is skipped; one of ours that does not parse is an error.
 */
export function parsePythonToolLines(stdout: string, prompts: ToolPrompt[], shape: ToolShape): ToolOutput {
  const output: ToolOutput = { meta: null, runs: [], teacherForced: new Map() };
  const lengths = new Map(prompts.map((p) => [p.id, p.ids.length]));
  const lines = stdout.split("\n");
  for (const [i, text] of lines.entries()) {
    if (!text.startsWith('{"kind"')) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      if (i >= lines.length - 2) continue; // the last line, cut short by a timeout
      throw new Error(`line ${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const parsed = Line.safeParse(value);
    if (!parsed.success) throw new Error(`line ${i + 1}: ${parsed.error.issues.map((e) => `${e.path.join(".")}: ${e.message}`).join("; ")}`);
    const line = parsed.data;
    if (line.kind === "meta") output.meta = { framework_version: line.framework_version, device: line.device, notes: line.notes };
    else if (line.kind === "teacher_forced") output.teacherForced.set(line.prompt_id, line.argmax_ids);
    else {
      const promptTokens = lengths.get(line.prompt_id);
      if (promptTokens === undefined) throw new Error(`line ${i + 1}: unknown prompt_id ${JSON.stringify(line.prompt_id)}`);
      const n = line.token_ids.length;
      if (n !== shape.newTokens) throw new Error(`line ${i + 1}: ${n} tokens, asked for ${shape.newTokens}`);
      const times = line.token_times_ns;
      const decodeSecs = times ? (times[n - 1] - times[0]) / 1e9 : ((line.tn_ns ?? NaN) - (line.t1_ns ?? NaN)) / 1e9;
      const firstSecs = times ? times[0] / 1e9 : (line.t1_ns ?? NaN) / 1e9;
      if (!(decodeSecs > 0)) throw new Error(`line ${i + 1}: no positive decode time (token_times_ns, or t1_ns < tn_ns)`);
      output.runs.push({
        promptId: line.prompt_id,
        promptTokens,
        repeat: line.repeat,
        decodeTps: decodeTps(n, decodeSecs),
        prefillTps: promptTokens / firstSecs,
        tokenIds: line.token_ids,
        raw: times ? { ttft_ms: times[0] / 1e6 } : { t1_secs: line.t1_ns! / 1e9, ...(line.t2_ns ? { t2_secs: line.t2_ns / 1e9 } : {}), tn_secs: line.tn_ns! / 1e9 },
      });
    }
  }
  return output;
}

function promptsFile(ctx: ToolContext, tool: string, prompts: ToolPrompt[]): string {
  const file = join(ctx.outDir, `${tool}-prompts.json`);
  writeFileSync(file, JSON.stringify(prompts));
  return file;
}

const common = (ctx: ToolContext, file: string, shape: ToolShape): string[] => [
  "--model", ctx.runnerModelDir, "--dtype", ctx.dtype, "--prompts", file,
  "--new-tokens", String(shape.newTokens), "--repeats", String(shape.repeats), "--warmup", String(shape.warmup),
];

/**
 * transformers' generate() as its users call it: static cache for torch-compile (CUDA graphs on
 * CUDA; that runner calls generate() itself, so the same code path), dynamic for torch, whose runner
 * calls the model's forward in its own loop (runners/torch/runner.py) and so skips what generate()
 * does around each step (input preparation, logits processors, stopping criteria): another code path.
 */
export function transformersGenerate(cache: "static" | "dynamic"): CommandTool {
  return {
    name: `transformers generate (${cache} cache)`,
    sameCodePath: cache === "static",
    promptIds: "harness",
    perPrompt: false,
    notes: [
      "decode_tps = (N − 1) / (T(N) − T(1)) per repeat: T(k) the wall time of generate() with k new tokens, device synchronised",
      ...(cache === "dynamic" ? ["the torch runner's own loop calls the model's forward without generate(): another code path (on a 2-core Xeon, tiny model, f32, 2026-12-07: the runner 1.14× generate())"] : []),
    ],
    invocation(ctx, prompts, shape): Invocation {
      const file = promptsFile(ctx, `transformers-${cache}`, prompts);
      return { command: ctx.launch.command, args: [join(RUNNERS_DIR, "torch", "fidelity_tools.py"), "generate", ...common(ctx, file, shape), "--cache", cache] };
    },
    parse: parsePythonToolLines,
  };
}

/** torch-fast's model and loop (runners/torch/fast_decode.py) without the protocol; checked against the tools run before it. */
export const torchFastLoop: CommandTool = {
  name: "torch-fast loop",
  sameCodePath: true,
  promptIds: "harness",
  perPrompt: false,
  notes: ["decode_tps by the protocol's formula from the loop's own per-token times"],
  invocation(ctx, prompts, shape) {
    const file = promptsFile(ctx, "torch-fast", prompts);
    // The label's runner flags (torch-fast[attention=sdpa]) are the loop's arguments too.
    const args = [join(RUNNERS_DIR, "torch", "fidelity_tools.py"), "loop", ...common(ctx, file, shape), ...ctx.flagArgs];
    const reference = prompts.filter((p) => ctx.referenceTokens.has(p.id));
    if (reference.length) {
      const referenceFile = join(ctx.outDir, "torch-fast-reference.json");
      writeFileSync(referenceFile, JSON.stringify(Object.fromEntries(reference.map((p) => [p.id, ctx.referenceTokens.get(p.id)]))));
      args.push("--reference", referenceFile);
    }
    return { command: ctx.launch.command, args };
  },
  parse: parsePythonToolLines,
};

/**
 * mlx-lm's loops called directly on the harness's prompt ids: `generate_step` bare (our runner's loop
 * without the protocol) and `stream_generate` (mlx_lm.benchmark's loop without its process and
 * setting). With our runner and mlx_lm.benchmark they split the runner-vs-tool gap in one session.
 */
function mlxLoop(loop: "generate_step" | "stream_generate"): CommandTool {
  return {
    name: `mlx-lm ${loop} loop`,
    sameCodePath: true,
    promptIds: "harness",
    perPrompt: false,
    notes: ["decode_tps by the protocol's formula from the loop's own per-token times"],
    invocation(ctx, prompts, shape) {
      const file = promptsFile(ctx, `mlx-${loop}`, prompts);
      return { command: ctx.launch.command, args: [join(RUNNERS_DIR, "mlx-lm", "fidelity_loops.py"), ...common(ctx, file, shape), "--loop", loop, ...ctx.flagArgs] };
    },
    parse: parsePythonToolLines,
  };
}

export const mlxGenerateStep = mlxLoop("generate_step");
export const mlxStreamGenerate = mlxLoop("stream_generate");
