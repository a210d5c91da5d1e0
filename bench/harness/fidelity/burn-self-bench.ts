import { z } from "zod";
import type { CommandTool, ToolOutput, ToolPrompt, ToolShape } from "./tool.ts";

/**
 * The Burn runner's `--self-bench P,N,R` (runners/burn/src/self_bench.rs): after the same load,
 * warm-up and decode check as a served run, it generates R times from the prompt 0..P−1 with N new
 * tokens and prints one JSON line a run, no protocol between tokens. Its `decode_tps` is already the
 * protocol's (N − 1) / (t_N − t_1). The label's runner flags become its arguments, as in the harness
 * (`burn-cuda[kernels=custom]` → `--backend cuda --kernels custom`); its first W runs are the warm-up.
 */

const ReadyLine = z.looseObject({ op: z.literal("ready"), framework_version: z.string(), device: z.string(), notes: z.array(z.string()).optional(), build: z.unknown().optional() });
const RunLine = z.looseObject({ self_bench: z.int().nonnegative(), prompt_tokens: z.int().positive(), new_tokens: z.int(), ttft_ms: z.number(), decode_tps: z.number().positive(), token_ids: z.array(z.int()) });

export function parseBurnSelfBench(stdout: string, prompts: ToolPrompt[], shape: ToolShape): ToolOutput {
  const output: ToolOutput = { meta: null, runs: [], teacherForced: new Map() };
  for (const text of stdout.split("\n")) {
    if (!text.startsWith("{")) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      continue; // a line cut short by a timeout
    }
    const ready = ReadyLine.safeParse(value);
    if (ready.success) {
      output.meta = { framework_version: `burn ${ready.data.framework_version}`, device: ready.data.device, notes: ready.data.notes ?? [] };
      continue;
    }
    const run = RunLine.safeParse(value);
    if (!run.success) continue; // the runner's other lines (fatal: the caller's error names the exit and the log)
    const r = run.data;
    if (r.self_bench < shape.warmup) continue;
    output.runs.push({
      promptId: prompts[0].id,
      promptTokens: r.prompt_tokens,
      repeat: r.self_bench - shape.warmup,
      decodeTps: r.decode_tps,
      prefillTps: r.prompt_tokens / (r.ttft_ms / 1e3),
      tokenIds: r.token_ids,
      raw: { ttft_ms: r.ttft_ms },
    });
  }
  return output;
}

export const burnSelfBench: CommandTool = {
  name: "burn --self-bench",
  sameCodePath: true,
  promptIds: "0..P-1",
  perPrompt: true,
  notes: ["the runner's own loop after load, warm-up and check (--self-bench P,N,W+R; the first W runs dropped); prompt ids 0..P−1; decode_tps by the protocol's formula"],
  invocation: (ctx, prompts, shape) => ({
    command: ctx.launch.command,
    args: [...ctx.launch.args, "--self-bench", `${prompts[0].ids.length},${shape.newTokens},${shape.warmup + shape.repeats}`],
  }),
  parse: parseBurnSelfBench,
};
