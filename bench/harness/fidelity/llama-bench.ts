import { dirname, join } from "node:path";
import { z } from "zod";
import { LLAMA_BENCH_PROGRAM } from "../setup/llama-cpp-build.ts";
import type { CommandTool, Invocation, ToolContext, ToolOutput, ToolPrompt, ToolShape } from "./tool.ts";

/**
 * llama.cpp's `llama-bench -m GGUF -p 0 -n N -d P -r R -o json` (tools/llama-bench, built from the
 * same tree as our llama-cpp runner, in the same folder), on the GGUF our runner loads.
 *
 * What it times (llama-bench.cpp, test_gen): after its own warm-up run and, with `-d P`, a KV cache
 * filled to depth P (a prefill of P tokens, outside the timing), N single-token decode steps, each
 * `llama_decode` then `llama_synchronize`, the next token `rand() % n_vocab`: no sampling, no logits
 * read back, no prompt of ours (tokens cannot be compared). Each repetition's `samples_ts` is N /
 * (time of the N steps), a per-step rate: it is this tool's decode tok/s as it stands, to set beside
 * the protocol's (N − 1) / (t_N − t_1), which also pays the argmax and the id's trip to the host.
 */

const Test = z.looseObject({
  build_commit: z.string(),
  backends: z.string(),
  gpu_info: z.string().optional(),
  cpu_info: z.string().optional(),
  model_type: z.string(),
  n_prompt: z.int(),
  n_gen: z.int(),
  n_depth: z.int().optional(),
  samples_ts: z.array(z.number().positive()),
});

/** Its `-o json` output: an array of tests; the one with n_prompt 0, n_gen N and n_depth P is ours. */
export function parseLlamaBench(stdout: string, prompts: ToolPrompt[], shape: ToolShape): ToolOutput {
  const start = stdout.indexOf("[");
  if (start < 0) return { meta: null, runs: [], teacherForced: new Map() };
  const tests = z.array(Test).parse(JSON.parse(stdout.slice(start)));
  const depth = prompts[0].ids.length;
  const test = tests.find((t) => t.n_prompt === 0 && t.n_gen === shape.newTokens && (t.n_depth ?? 0) === depth);
  if (!test) throw new Error(`llama-bench: no test with n_prompt 0, n_gen ${shape.newTokens}, n_depth ${depth} among ${tests.length}`);
  return {
    meta: {
      framework_version: `llama.cpp ${test.build_commit}`,
      device: [test.backends, test.gpu_info || test.cpu_info].filter(Boolean).join(", "),
      notes: [`model_type ${test.model_type}`],
    },
    runs: test.samples_ts.map((tps, repeat) => ({ promptId: prompts[0].id, promptTokens: depth, repeat, decodeTps: tps, raw: { samples_ts: tps } })),
    teacherForced: new Map(),
  };
}

/** The value after `flag` in our runner's arguments, or null. */
const argValue = (args: string[], flag: string): string | null => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : null;
};

export const llamaBench: CommandTool = {
  name: "llama-bench",
  sameCodePath: true,
  promptIds: "depth",
  perPrompt: true,
  notes: ["llama-bench -p 0 -n N -d P -r R: per-step rate N / (time of N decode steps), no sampling, random next tokens; its own warm-up run"],
  refuses(ctx) {
    return argValue(ctx.launch.args, "--gguf") ? null : `our runner's command has no --gguf (${[ctx.launch.command, ...ctx.launch.args].join(" ")})`;
  },
  invocation(ctx: ToolContext, prompts, shape): Invocation {
    const args = ["-m", argValue(ctx.launch.args, "--gguf")!, "-p", "0", "-n", String(shape.newTokens), "-d", String(prompts[0].ids.length), "-r", String(shape.repeats), "-o", "json"];
    if (argValue(ctx.launch.args, "--device") === "cpu") args.push("-ngl", "0");
    const threads = argValue(ctx.launch.args, "--threads");
    if (threads && threads !== "0") args.push("-t", threads);
    // The runner's build folder holds llama-bench too (setup/llama-cpp-build.ts: one CMake build makes both).
    return { command: join(dirname(ctx.launch.command), LLAMA_BENCH_PROGRAM), args };
  },
  parse: parseLlamaBench,
};
