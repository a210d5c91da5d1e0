import { join } from "node:path";
import { labelFileStem } from "../framework-label.ts";
import { makePlan, runDirName } from "../plan.ts";
import { ensureBenchModel } from "../prepare.ts";
import { FrameworkSession } from "../session.ts";
import { OURS_TOOL } from "../schema/fidelity.ts";
import { processEnvironment, readSettings } from "../settings.ts";
import type { InProcessTool, ToolContext, ToolOutput, ToolPrompt, ToolRun, ToolShape } from "./tool.ts";

/**
 * Knobs of the benchmark run that a fidelity run must not inherit: ours times the tool's prompts at
 * its shape, one label, on one machine (no depth cases, lanes, profilers or budget trimming).
 */
const NOT_INHERITED = ["BENCH_DEPTHS", "BENCH_LANES", "BENCH_PROFILER", "BENCH_PROMPT_IDS", "BENCH_RUNS_PER_PROCESS", "BENCH_VITEST_SAVE", "BENCH_VITEST_BASELINE"];

/**
 * Our runner itself, timed by the benchmark's own measurement code (session.ts: its runner process,
 * warm-ups and runner-timed tokens, each request written to a results file) on the tool's prompts
 * and shape, in a fresh runner process each round. `qwen3-bench fidelity --run` runs it as the first
 * tool of every label, so "ours" and each framework's own tool are measured in one call on one
 * machine, their processes interleaved round by round, rather than joined from another run.
 */
export const oursTool: InProcessTool = {
  name: OURS_TOOL,
  sameCodePath: true,
  promptIds: "harness",
  perPrompt: false,
  notes: [
    "our runner through the benchmark's own measurement (runner process, warm-ups, decode_tps = (N − 1) / (t_N − t_1) of the runner's per-token times), a fresh process each round, before the label's tools; its results files under ours/",
  ],
  measure: measureOurs,
};

/** The benchmark's settings for one label at the tool's shape (MODEL_PATH, dtype, new tokens, warm-ups, timed runs, no budget). */
function oursSettings(ctx: ToolContext, shape: ToolShape) {
  return readSettings({
    ...processEnvironment(),
    // An empty value is an unset knob (settings.ts).
    ...Object.fromEntries(NOT_INHERITED.map((name) => [name, ""])),
    MODEL_PATH: ctx.modelDir,
    BENCH_DTYPE: ctx.dtype,
    BENCH_FRAMEWORKS: ctx.label,
    BENCH_MAX_NEW_TOKENS: String(shape.newTokens),
    BENCH_WARMUP_ITERATIONS: String(shape.warmup),
    BENCH_TIMED_ITERATIONS: String(shape.repeats),
    BENCH_BUDGET_SECS: "0",
  });
}

async function measureOurs(ctx: ToolContext, prompts: ToolPrompt[], shape: ToolShape): Promise<ToolOutput> {
  const settings = oursSettings(ctx, shape);
  const runDir = join(ctx.outDir, "ours", `${labelFileStem(ctx.label)}-${runDirName()}`);
  const plan = await makePlan(settings, await ensureBenchModel(settings), runDir);
  // The tool's prompts (the harness's ids, or ids 0..P−1) replace the prompts file's.
  plan.prompts = prompts.map((p) => ({ id: p.id, text: "", promptTokenIds: p.ids }));
  const session = new FrameworkSession(plan, ctx.label);
  const runs: ToolRun[] = [];
  let ready: Awaited<ReturnType<FrameworkSession["ensureRunner"]>>["ready"] | null = null;
  try {
    for (const prompt of plan.prompts) {
      const planned = await session.planCase(prompt);
      if (!("shape" in planned)) throw new Error(`${prompt.id}: ${planned.skipped}`);
      const { shape: caseShape } = planned;
      for (let i = planned.firstRequest; i < caseShape.warmupIterations + caseShape.timedIterations; i++) {
        const record = await session.measure(prompt, i, caseShape, { cooldown: false });
        ready ??= (await session.ensureRunner()).ready;
        if (i < caseShape.warmupIterations) continue;
        runs.push({
          promptId: prompt.id,
          promptTokens: prompt.promptTokenIds.length,
          repeat: record.iteration,
          decodeTps: record.decode_tps,
          prefillTps: record.prefill_tps,
          tokenIds: record.token_ids,
          raw: { ttft_ms: record.ttft_secs * 1000 },
        });
      }
    }
  } finally {
    await session.close();
  }
  const meta = ready ? { framework_version: ready.framework_version, device: ready.device, notes: [`results: ${runDir}`] } : null;
  return { meta, runs, teacherForced: new Map() };
}
