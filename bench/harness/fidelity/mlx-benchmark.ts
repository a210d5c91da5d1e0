import { ensureMlxConverted } from "../mlx-quant.ts";
import { benchCacheDir } from "../settings.ts";
import type { CommandTool, ToolOutput, ToolPrompt, ToolShape } from "./tool.ts";

/**
 * `python -m mlx_lm benchmark -p P -g N -n R` (mlx-lm 0.32.2, mlx_lm/benchmark.py), on a copy of the
 * model converted to the run dtype (`mlx_lm convert --dtype`: the tool runs the checkpoint's dtype).
 *
 * What it times, read from its source (benchmark.py, generate.py's stream_generate):
 * - prompt: `mx.random.randint(0, vocab_size, (1, P))` after `mx.random.seed(0)`, not the harness's ids
 *   (decode cost does not depend on the ids; the tokens cannot be compared);
 * - one warm-up generation of the same shape, then R trials, each a full `stream_generate` call;
 * - `generation_tps` = N / (t_N − t_1): stream_generate restarts its clock when the first token is
 *   yielded and divides all N tokens by the time of the N − 1 steps after it, so it overstates a
 *   decode rate by N / (N − 1) (0.8 % at N = 128). This adapter reports generation_tps × (N − 1) / N,
 *   the protocol's (N − 1) / (t_N − t_1);
 * - inside that window, per token: the generate_step loop our runner uses (async_eval pipelining,
 *   `y.item()` per token), plus stream_generate's own work: the streaming detokenizer's add_token, a
 *   GenerationResponse with `mx.get_peak_memory()`, the EOS check (EOS ids emptied);
 * - `prompt_tps` = P / (time to the first token), prefill plus the first step.
 * Why our runner measured 1.42× this tool on an H200, and what is measured against what: mlx-lm.md.
 */

const TRIAL = /^Trial (\d+):\s+(.*)$/;

/** Its `Trial i:  prompt_tps=..., generation_tps=..., peak_memory=..., total_time=...` lines (stdout). */
export function parseMlxBenchmark(stdout: string, prompts: ToolPrompt[], shape: ToolShape): ToolOutput {
  if (prompts.length !== 1) throw new Error(`mlx_lm.benchmark runs one prompt length an invocation, got ${prompts.length}`);
  const timing = /Timing with prompt_tokens=(\d+), generation_tokens=(\d+), batch_size=(\d+)/.exec(stdout);
  if (timing && (Number(timing[1]) !== prompts[0].ids.length || Number(timing[2]) !== shape.newTokens || Number(timing[3]) !== 1)) {
    throw new Error(`mlx_lm.benchmark timed ${timing[0]}, asked for prompt_tokens=${prompts[0].ids.length}, generation_tokens=${shape.newTokens}, batch_size=1`);
  }
  const runs = stdout.split("\n").flatMap((line) => {
    const m = TRIAL.exec(line.trim());
    if (!m) return [];
    const fields = Object.fromEntries(m[2].split(", ").map((kv) => kv.split("=")).map(([k, v]) => [k, Number(v)]));
    if (!(fields.generation_tps > 0)) throw new Error(`mlx_lm.benchmark: no generation_tps in ${JSON.stringify(line)}`);
    const n = shape.newTokens;
    return [{
      promptId: prompts[0].id,
      promptTokens: prompts[0].ids.length,
      repeat: Number(m[1]) - 1,
      decodeTps: (fields.generation_tps * (n - 1)) / n,
      prefillTps: fields.prompt_tps,
      raw: fields,
    }];
  });
  return { meta: null, runs, teacherForced: new Map() };
}

export const mlxBenchmark: CommandTool = {
  name: "mlx_lm.benchmark",
  sameCodePath: true,
  promptIds: "random",
  perPrompt: true,
  notes: [
    "python -m mlx_lm benchmark on a copy made by mlx_lm convert --dtype; random prompt ids; one warm-up generation (its own, whatever --warmup says)",
    "decode_tps = generation_tps × (N − 1) / N: mlx-lm divides N tokens by the time after the first",
  ],
  refuses: (ctx) => (ctx.flagArgs.length ? `mlx_lm.benchmark takes no runner flags (${ctx.flagArgs.join(" ")}): it runs on mlx's default device` : null),
  // A copy the harness made for the label (quantized, already in the run dtype) is benchmarked as it
  // is; else a copy in the run dtype, made once and cached (never in the fidelity run's folder).
  model: (ctx) =>
    ctx.runnerModelDir !== ctx.modelDir ? Promise.resolve(ctx.runnerModelDir) : ensureMlxConverted({ python: ctx.launch.command, env: ctx.launch.env, modelDir: ctx.modelDir, dtype: ctx.dtype, cacheRoot: benchCacheDir() }),
  prepare: (ctx) => [
    {
      what: "mlx and mlx-lm versions, default device",
      invocation: { command: ctx.launch.command, args: ["-c", "import json, mlx.core as mx, importlib.metadata as m; print(json.dumps({'kind': 'meta', 'framework_version': f\"mlx-lm {m.version('mlx-lm')}, mlx {mx.__version__}\", 'device': str(mx.default_device())}))"] },
    },
  ],
  invocation: (ctx, prompts, shape) => ({
    command: ctx.launch.command,
    args: ["-m", "mlx_lm", "benchmark", "--model", ctx.toolModelDir, "-p", String(prompts[0].ids.length), "-g", String(shape.newTokens), "-n", String(shape.repeats)],
  }),
  parse: parseMlxBenchmark,
};
