// Decode at context depth (BENCH_DEPTHS) and the model's context window: depth prompts are exactly d
// real-text tokens around the base prompt's template; a prompt or depth the model cannot hold is
// refused by the plan with one error naming the case, its tokens, the limit and where each came
// from; and a real runner's greedy tokens after a deep prefill equal its own one-pass (teacher-forced)
// argmax on the same ids, exactly, on the tiny f32 model.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { checkContextFits, contextOverflows } from "../harness/context-limit.ts";
import { depthPrompt, depthPrompts, parseDepths } from "../harness/depth.ts";
import { checkModelDir } from "../harness/model/validate.ts";
import { PROMPTS_FILE } from "../harness/paths.ts";
import { makePlan } from "../harness/plan.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { loadPromptsFile } from "../harness/prompts-file.ts";
import { RunnerProcess } from "../harness/runner-process.ts";
import { readSettings } from "../harness/settings.ts";
import { PromptTokenizer } from "../harness/tokenize.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { FrameworkSession } from "../harness/session.ts";
import { launchVariant, probeVariant, resolveVariant } from "../harness/variants.ts";
import { tinyPlan } from "./tiny-plan.ts";
import { depthTable } from "../report/depth.ts";
import { loadResultsDir } from "../report/summary.ts";
import { DECODE_TPS_BY_DEPTH_FILE, decodeTpsByDepthSpec } from "../report/charts/decode-tps-by-depth.ts";
import { CHARTS } from "../report/charts/index.ts";
import { renderChart } from "../report/charts/render.ts";

const tokenizer = new PromptTokenizer(TEST_MODELS.tiny);
const prompts = loadPromptsFile(PROMPTS_FILE).prompts.prompts;
const short = prompts.find((p) => p.id === "short")!;

describe("BENCH_DEPTHS", () => {
  test("parses to distinct depths, ascending; bad items name the knob", () => {
    expect(readSettings({}).depths).toBeNull();
    expect(readSettings({ BENCH_DEPTHS: "32768, 0,4096,4096" }).depths).toEqual([0, 4096, 32768]);
    expect(() => parseDepths("0,4k")).toThrow(/BENCH_DEPTHS: "4k" is not a whole number/);
    expect(() => parseDepths("-5")).toThrow(/BENCH_DEPTHS/);
    expect(() => parseDepths(" , ")).toThrow(/BENCH_DEPTHS/);
  });

  test("a depth prompt is exactly d ids: the template's head and user message, the filler, the template's tail", () => {
    const plain = tokenizer.tokenize(short);
    const head = tokenizer.encode(plain.text.slice(0, plain.text.lastIndexOf(short.user) + short.user.length));
    const tail = tokenizer.encode(plain.text.slice(plain.text.lastIndexOf(short.user) + short.user.length));
    expect([...head, ...tail]).toEqual(plain.promptTokenIds);
    for (const depth of [plain.promptTokenIds.length, 100, 1000, 3000]) {
      const p = depthPrompt(tokenizer, short, depth, readFileSync(join(import.meta.dirname, "..", "depth-text.txt"), "utf8"));
      expect(p.promptTokenIds).toHaveLength(depth);
      expect(p.depth).toBe(depth);
      expect(p.id).toBe(`short-d${depth}`);
      expect(p.promptTokenIds.slice(0, head.length)).toEqual(head);
      expect(p.promptTokenIds.slice(depth - tail.length)).toEqual(tail);
      // Real text: the decoded filler holds the prose, not placeholder ids.
      if (depth >= 1000) expect(p.text).toContain("The lighthouse keeper's log");
    }
    const [d0, d500] = depthPrompts(tokenizer, short, [0, 500]);
    expect(d0.promptTokenIds).toEqual(plain.promptTokenIds);
    expect(d0.depth).toBe(0);
    // Deterministic: built twice, the same ids.
    expect(depthPrompts(tokenizer, short, [500])[0].promptTokenIds).toEqual(d500.promptTokenIds);
  });

  test("a depth below the base prompt's own length is refused, naming the knob", () => {
    expect(() => depthPrompts(tokenizer, short, [5])).toThrow(/BENCH_DEPTHS: depth 5 is below the \d+ tokens of the base prompt "short"/);
  });
});

describe("the model's context window", () => {
  const limit = { maxPositions: 4096, configFile: "/m/config.json", maxNewTokens: 32, maxNewTokensSource: "BENCH_MAX_NEW_TOKENS" };

  test("a case fits up to max_position_embeddings exactly, not one token more", () => {
    expect(contextOverflows([{ id: "a", promptTokens: 4064, source: "p.json" }], limit)).toEqual([]);
    expect(contextOverflows([{ id: "a", promptTokens: 4065, source: "p.json" }], limit)).toEqual([
      'p.json: prompt "a" is 4065 tokens + 32 new tokens (BENCH_MAX_NEW_TOKENS) = 4097 positions, over the model\'s max_position_embeddings of 4096 (/m/config.json)',
    ]);
    expect(() => checkContextFits([{ id: "a", promptTokens: 5000, source: "p.json" }, { id: "b", promptTokens: 10, source: "p.json" }], limit)).toThrow(/cannot hold this case/);
  });

  const plan = (env: Record<string, string>) =>
    makePlan(readSettings({ MODEL_PATH: TEST_MODELS.tiny, BENCH_FRAMEWORKS: "burn-cpu", BENCH_PROFILE: "quick", ...env }), checkModelDir(TEST_MODELS.tiny), mkdtempSync(join(tmpdir(), "qwen3-bench-ctx-")));

  test("a prompt longer than the window is refused by the plan, naming the file, the prompt, its tokens and the limit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qwen3-bench-ctx-"));
    const file = join(dir, "prompts.json");
    writeFileSync(file, JSON.stringify({ prompts: [short, { id: "huge", system: "", user: "word ".repeat(5000) }] }));
    await expect(plan({ BENCH_PROMPTS: file })).rejects.toThrow(
      new RegExp(`${file}: prompt "huge" is \\d+ tokens \\+ 32 new tokens \\(config\\.profiles\\.quick\\.max_new_tokens of the prompts file\\) = \\d+ positions, over the model's max_position_embeddings of 4096 \\(${TEST_MODELS.tiny}/config\\.json\\)`),
    );
    await expect(plan({ BENCH_PROMPTS: file, BENCH_PROMPT_IDS: "short" })).resolves.toBeDefined();
  });

  test("a depth the window cannot hold with its new tokens is refused, naming BENCH_DEPTHS", async () => {
    await expect(plan({ BENCH_DEPTHS: "0,4080", BENCH_MAX_NEW_TOKENS: "17" })).rejects.toThrow(
      /BENCH_DEPTHS=0,4080: prompt "short-d4080" is 4080 tokens \+ 17 new tokens \(BENCH_MAX_NEW_TOKENS\) = 4097 positions/,
    );
    const ok = await plan({ BENCH_DEPTHS: "0,4080", BENCH_MAX_NEW_TOKENS: "16" });
    expect(ok.prompts.map((p) => [p.id, p.promptTokenIds.length, p.depth])).toEqual([
      ["short-d0", tokenizer.tokenize(short).promptTokenIds.length, 0],
      ["short-d4080", 4080, 4080],
    ]);
  });

  test("BENCH_PROMPT_IDS picks the base prompt of the depth cases; without BENCH_DEPTHS the prompts are as before", async () => {
    expect((await plan({ BENCH_DEPTHS: "600", BENCH_PROMPT_IDS: "medium" })).prompts.map((p) => p.id)).toEqual(["medium-d600"]);
    const plain = await plan({});
    expect(plain.prompts.map((p) => p.id)).toEqual(prompts.map((p) => p.id));
    expect(plain.prompts.every((p) => p.depth === undefined)).toBe(true);
  });
});

// Runners that can take a 3,000-token prompt on this machine in a test's time (CPU backends); Burn
// with both ways its chunks attend (`chunk-attention`: burn, its CPU default, and explicit).
const DEEP_RUNNERS = ["burn-cpu", "burn-cpu[chunk-attention=explicit]", "mlx-lm", "torch-fast"];
const deepRunners = await Promise.all(
  DEEP_RUNNERS.map(async (label) => {
    const variant = resolveVariant(label);
    return { variant, ...(await probeVariant(variant)) };
  }),
);

describe.each(deepRunners.map((r) => [r.variant.label, r] as const))("%s after a deep prefill (tiny model, f32)", (name, runner) => {
  // Past Burn's and mlx-lm's 2048-token and torch-fast's 1024-token prefill chunks, so the decode reads a cache filled in steps.
  const DEPTH = 2500;
  const NEW_TOKENS = 24;
  test.skipIf(!runner.available)(`greedy tokens at depth ${DEPTH} equal the runner's own one-pass argmax on the same ids, exactly`, async () => {
    const [deep] = depthPrompts(tokenizer, short, [DEPTH]);
    const process = await RunnerProcess.start(await launchVariant(runner.variant, TEST_MODELS.tiny, "f32"), 600_000);
    try {
      const { reply } = await process.generate({ prompt_token_ids: deep.promptTokenIds, max_new_tokens: NEW_TOKENS, ignore_eos: true }, 900_000);
      expect(reply.token_ids).toHaveLength(NEW_TOKENS);
      // score is one forward pass over prompt + continuation (no KV cache between steps): its argmax at
      // each position is what incremental decode over the cache must have produced.
      const { reply: scored } = await process.score({ prompt_token_ids: deep.promptTokenIds, continuation_token_ids: reply.token_ids, top_k: 1 }, 900_000);
      expect(scored.argmax_ids, `${name}: decode after a ${DEPTH}-token prefill vs one pass`).toEqual(reply.token_ids);
    } finally {
      await process.shutdown();
    }
  }, 2_400_000);
});

test("a depth case's runs carry their depth; the report tables and charts them, and says why a depth was not measured (fake runner)", async () => {
  const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-depth-"));
  const [d0, d600] = depthPrompts(tokenizer, short, [0, 600]);
  const plan = tinyPlan(runDir, {
    profile: { max_new_tokens: 8, warmup_iterations: 0, timed_iterations: 2, cooldown_secs: 0 },
    frameworks: [{ name: "fake", available: true, reason: "fake" }],
    prompts: [d0, d600],
  });
  const measureAll = async (name: string, modes: string[]) => {
    let launches = 0;
    const mode = () => modes[Math.min(launches++, modes.length - 1)];
    const session = new FrameworkSession(plan, name, async () => ({ framework: name, command: process.execPath, args: [join(import.meta.dirname, "fake-runner.mjs"), `--mode=${mode()}`] }));
    try {
      for (const prompt of plan.prompts) for (let i = 0; i < 2; i++) await session.measure(prompt, i).catch(() => undefined);
    } finally {
      await session.close();
    }
  };
  await measureAll("fake", ["ok"]);
  // A runner that dies once its cache is deep, and cannot start again: no depth-600 run.
  await measureAll("fake-shallow", ["crash-after=2", "fatal"]);
  const results = ResultsFile.parse(JSON.parse(readFileSync(join(runDir, "fake_results.json"), "utf8")));
  expect(results.runs.map((r) => [r.prompt_id, r.depth, r.prompt_tokens])).toEqual([
    ["short-d0", 0, d0.promptTokenIds.length],
    ["short-d0", 0, d0.promptTokenIds.length],
    ["short-d600", 600, 600],
    ["short-d600", 600, 600],
  ]);

  const model = loadResultsDir(runDir);
  const table = depthTable(model);
  expect(table.rows.map((r) => r.slice(0, 2))).toEqual([["fake", "0"], ["fake", "600"], ["fake-shallow", "0"], ["fake-shallow", "600"]]);
  expect(table.rows[1][4]).toMatch(/ %$/);
  expect(table.rows[3][2]).toMatch(/^not measured: runner error \(\w+\): /);
  const spec = decodeTpsByDepthSpec(model) as { data: { values: Array<{ framework: string; depth: number; cached: number }> }; encoding: { x: { scale: { type: string } } } };
  expect(spec.encoding.x.scale.type).toBe("log");
  expect(spec.data.values.map((v) => [v.framework, v.depth, v.cached])).toEqual([
    ["fake", 0, d0.promptTokenIds.length],
    ["fake", 600, 600],
    ["fake-shallow", 0, d0.promptTokenIds.length],
  ]);
  expect((await renderChart(spec as never)).png.length).toBeGreaterThan(1000);
  expect(CHARTS.filter((c) => c.applies?.(model) ?? true).map((c) => c.file)).toContain(DECODE_TPS_BY_DEPTH_FILE);

  // A run stopped before its deepest case (BENCH_WALL_LIMIT): the depth its BENCH_DEPTHS planned is
  // a row that says so, not a silent gap.
  const file = join(runDir, "fake_results.json");
  const stopped = JSON.parse(readFileSync(file, "utf8"));
  expect(stopped.provenance).toBeDefined();
  stopped.provenance.env = { ...stopped.provenance.env, BENCH_DEPTHS: "0,600,1200", BENCH_WALL_LIMIT: "90" };
  writeFileSync(file, JSON.stringify(stopped));
  const rows = depthTable(loadResultsDir(runDir)).rows.filter((r) => r[0] === "fake");
  expect(rows.map((r) => r.slice(0, 3))).toEqual([
    ["fake", "0", expect.not.stringMatching(/^not measured/)],
    ["fake", "600", expect.not.stringMatching(/^not measured/)],
    ["fake", "1200", "not measured: not reached: the run stopped before this depth (BENCH_WALL_LIMIT=90 s)"],
  ]);
});

test("under the quick profile's time budget a depth too deep for a slow runner is skipped and named, like every trim (fake runner)", async () => {
  const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-depth-budget-"));
  const cases = depthPrompts(tokenizer, short, [0, 30000]);
  const plan = tinyPlan(runDir, {
    profile: { max_new_tokens: 16, warmup_iterations: 1, timed_iterations: 3, cooldown_secs: 0, budget: { secs: 2, min_new_tokens: 8, min_timed_iterations: 2 } },
    frameworks: [{ name: "fake", available: true, reason: "fake" }],
    prompts: cases,
  });
  const session = new FrameworkSession(plan, "fake", async () => ({ framework: "fake", command: process.execPath, args: [join(import.meta.dirname, "fake-runner.mjs"), "--mode=ok"] }));
  try {
    for (const prompt of plan.prompts) {
      const planned = await session.planCase(prompt);
      if (!("shape" in planned)) continue;
      for (let i = planned.firstRequest; i < planned.shape.warmupIterations + planned.shape.timedIterations; i++) await session.measure(prompt, i, planned.shape);
    }
  } finally {
    await session.close();
  }
  const results = ResultsFile.parse(JSON.parse(readFileSync(join(runDir, "fake_results.json"), "utf8")));
  // The fake's first request prefills the base prompt in 10 ms: 30,000 tokens at that rate is ≈20 s, over the 2 s budget.
  expect(results.cases.map((c) => [c.prompt_id, c.skipped === null])).toEqual([["short-d0", true], ["short-d30000", false]]);
  expect(results.cases[1].skipped).toMatch(/would take ≈\d+ s .* over the \d+ s left of its 2 s budget/);
  const rows = depthTable(loadResultsDir(runDir)).rows;
  expect(rows[1].slice(0, 3)).toEqual(["fake", "30000", `not measured: skipped by the time budget: ${results.cases[1].skipped}`]);
});
