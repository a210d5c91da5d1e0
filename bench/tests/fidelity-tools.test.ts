// `qwen3-bench fidelity --run`'s adapters (bench/harness/fidelity/): each parser on output its tool
// really printed (fixtures/fidelity/, captured on the 2-core development machine: the command that
// made each file is in fixtures/fidelity/README.md), the harness's label grammar reaching each
// tool's command line, the budget planner shaping a tool's later prompts, and one real run through
// the CLI with mlx-lm on the tiny model (the agreement rule between two tools, a refused label).
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { burnSelfBench, parseBurnSelfBench } from "../harness/fidelity/burn-self-bench.ts";
import { llamaBench, parseLlamaBench } from "../harness/fidelity/llama-bench.ts";
import { mlxBenchmark, parseMlxBenchmark } from "../harness/fidelity/mlx-benchmark.ts";
import { mlxGenerateStep, parsePythonToolLines, torchFastLoop, transformersGenerate } from "../harness/fidelity/python-tools.ts";
import { TokenReferences } from "../harness/fidelity/references.ts";
import { planToolShape } from "../harness/fidelity/shape.ts";
import type { FidelityTool, ToolContext } from "../harness/fidelity/tool.ts";
import { splitFrameworkLabels } from "../harness/framework-label.ts";
import { frameworkByName } from "../harness/frameworks.ts";
import { FIXTURES_DIR, REPO_ROOT } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { launchVariant, resolveVariants } from "../harness/variants.ts";
import { readFidelityJsonl } from "../report/fidelity.ts";
import { OURS_TOOL } from "../harness/schema/fidelity.ts";

const fixture = (name: string) => readFileSync(join(FIXTURES_DIR, "fidelity", name), "utf8");
const dir = mkdtempSync(join(tmpdir(), "fidelity-tools-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("mlx_lm.benchmark's output", () => {
  const prompts = [{ id: "p8", ids: [...Array(8).keys()] }];
  it("reads each Trial line; decode tok/s is its generation_tps × (N − 1) / N", () => {
    const out = parseMlxBenchmark(fixture("mlx_lm-benchmark-tiny-cpu.txt"), prompts, { newTokens: 16, warmup: 1, repeats: 3 });
    // The fixture's trials: generation_tps 37.108, 84.552, 22.569 at -g 16.
    expect(out.runs.map((r) => r.repeat)).toEqual([0, 1, 2]);
    expect(out.runs.map((r) => r.decodeTps)).toEqual([(37.108 * 15) / 16, (84.552 * 15) / 16, (22.569 * 15) / 16]);
    expect(out.runs[0]).toMatchObject({ promptId: "p8", promptTokens: 8, prefillTps: 90.381, raw: { generation_tps: 37.108, peak_memory: 0.081, total_time: 0.52 } });
  });

  it("refuses output timed with other settings than asked", () => {
    expect(() => parseMlxBenchmark(fixture("mlx_lm-benchmark-tiny-cpu.txt"), prompts, { newTokens: 32, warmup: 1, repeats: 3 })).toThrow(/generation_tokens=16.*asked for .*generation_tokens=32/);
  });
});

describe("the Python adapters' lines (runners/torch/fidelity_tools.py, runners/mlx-lm/fidelity_loops.py)", () => {
  it("mlx-lm's generate_step loop: the protocol's (N − 1) / (t_N − t_1) from its per-token times", () => {
    const text = fixture("mlx-generate-step-tiny-cpu.jsonl");
    const prompts = [{ id: "p8", ids: [...Array(8).keys()] }, { id: "p16", ids: [...Array(16).keys()] }];
    const out = parsePythonToolLines(text, prompts, { newTokens: 8, warmup: 1, repeats: 2 });
    expect(out.meta?.framework_version).toMatch(/^mlx-lm 0\.32\.2, mlx /);
    expect(out.runs).toHaveLength(4);
    const first = JSON.parse(text.split("\n")[1]) as { token_times_ns: number[]; token_ids: number[] };
    expect(out.runs[0].decodeTps).toBeCloseTo(7 / ((first.token_times_ns[7] - first.token_times_ns[0]) / 1e9), 9);
    expect(out.runs[0].tokenIds).toEqual(first.token_ids);
    // A line cut short by a time limit is dropped; a run of the wrong length is an error.
    expect(parsePythonToolLines(text + '{"kind": "run", "prompt_id": "p8", "rep', prompts, { newTokens: 8, warmup: 1, repeats: 2 }).runs).toHaveLength(4);
    expect(() => parsePythonToolLines(text, prompts, { newTokens: 16, warmup: 1, repeats: 2 })).toThrow(/8 tokens, asked for 16/);
  });

  it("transformers generate() timed from outside: (N − 1) / (T(N) − T(1)); torch-fast's teacher-forced argmax", () => {
    const prompts = [{ id: "p8", ids: [...Array(8).keys()] }];
    const generate = fixture("torch-generate-tiny-cpu.jsonl");
    const run = JSON.parse(generate.split("\n").find((l) => l.includes('"run"'))!) as { t1_ns: number; tn_ns: number };
    const out = parsePythonToolLines(generate, prompts, { newTokens: 8, warmup: 1, repeats: 2 });
    expect(out.runs[0].decodeTps).toBeCloseTo(7 / ((run.tn_ns - run.t1_ns) / 1e9), 9);
    const loop = parsePythonToolLines(fixture("torch-fast-loop-tiny-cpu.jsonl"), prompts, { newTokens: 8, warmup: 1, repeats: 2 });
    expect(loop.teacherForced.get("p8")).toHaveLength(8);
    expect(loop.runs[0].tokenIds).toEqual(out.runs[0].tokenIds); // f32 on the CPU: transformers' tokens exactly
  });
});

describe("Burn's --self-bench lines", () => {
  it("its ready line is the tool's meta; runs after the first W are the timed ones, with their decode_tps and tokens", () => {
    const text = fixture("burn-self-bench-tiny-cpu.jsonl");
    const lines = text.trim().split("\n").map((l) => JSON.parse(l) as { self_bench?: number; decode_tps?: number; token_ids?: number[]; ttft_ms?: number });
    const out = parseBurnSelfBench(text, [{ id: "p8", ids: [...Array(8).keys()] }], { newTokens: 8, warmup: 1, repeats: 2 });
    expect(out.meta?.framework_version).toMatch(/^burn 0\.22/);
    expect(out.runs.map((r) => r.repeat)).toEqual([0, 1]);
    expect(out.runs.map((r) => r.decodeTps)).toEqual([lines[2].decode_tps, lines[3].decode_tps]);
    expect(out.runs[0]).toMatchObject({ promptTokens: 8, tokenIds: lines[2].token_ids, raw: { ttft_ms: lines[2].ttft_ms } });
  });
});

describe("llama-bench's -o json", () => {
  it.skipIf(!existsFixture("llama-bench-tiny-cpu.json"))("reads the tg test at the prompt's depth: its samples_ts, one run each", () => {
    const text = fixture("llama-bench-tiny-cpu.json");
    const tests = JSON.parse(text) as Array<{ n_gen: number; n_depth: number; samples_ts: number[] }>;
    const tg = tests.find((t) => t.n_gen > 0)!;
    const out = parseLlamaBench(text, [{ id: "d", ids: [...Array(tg.n_depth).keys()] }], { newTokens: tg.n_gen, warmup: 1, repeats: tg.samples_ts.length });
    expect(out.runs.map((r) => r.decodeTps)).toEqual(tg.samples_ts);
    expect(out.meta?.framework_version).toMatch(/^llama\.cpp /);
    expect(() => parseLlamaBench(text, [{ id: "d", ids: [0] }], { newTokens: 999, warmup: 1, repeats: 1 })).toThrow(/no test with n_prompt 0, n_gen 999/);
  });
});

function existsFixture(name: string): boolean {
  try {
    fixture(name);
    return true;
  } catch {
    return false;
  }
}

describe("the harness's label grammar reaches each tool's command line", () => {
  const ctx = async (label: string): Promise<ToolContext> => {
    const [variant] = resolveVariants(splitFrameworkLabels(label));
    const launch = await launchVariant(variant, "/m", "f16");
    const flagArgs = variant.flags.flatMap(([name, value]) => variant.framework.flags![name].args(value));
    return { label: variant.label, launch, flagArgs, modelDir: "/m", runnerModelDir: "/m", toolModelDir: "/m", dtype: "f16", outDir: dir, referenceTokens: new Map() };
  };

  it("Burn: the label's flags become --self-bench's runner arguments; W warm-up runs come first", async () => {
    const invocation = burnSelfBench.invocation(await ctx("burn-cpu[kernels=custom,attention=explicit]"), [{ id: "short", ids: [...Array(28).keys()] }], { newTokens: 128, warmup: 1, repeats: 5 });
    expect(invocation.args).toEqual(["--model", "/m", "--dtype", "f16", "--backend", "cpu", "--attention", "explicit", "--kernels", "custom", "--self-bench", "28,128,6"]);
  });

  it("mlx_lm.benchmark refuses a label with runner flags (it cannot pass them); its command otherwise", async () => {
    expect(mlxBenchmark.refuses!(await ctx("mlx-lm[device=cpu]"))).toMatch(/takes no runner flags \(--device cpu\)/);
    const plain = await ctx("mlx-lm");
    expect(mlxBenchmark.refuses!(plain)).toBeNull();
    const converted = { ...plain, toolModelDir: "/cache/mlx-convert/m-f16" };
    expect(mlxBenchmark.invocation(converted, [{ id: "short", ids: [1, 2, 3] }], { newTokens: 128, warmup: 1, repeats: 5 }).args).toEqual(["-m", "mlx_lm", "benchmark", "--model", "/cache/mlx-convert/m-f16", "-p", "3", "-g", "128", "-n", "5"]);
  });

  it("llama-bench: the GGUF our runner loads, at the prompt's depth, beside our runner's program", () => {
    const launch = { framework: "llama-cpp[type=q8_0]", command: "/b/bin/qwen3-bench-llama-cpp", args: ["--model", "/m", "--gguf", "/g/q8_0.gguf", "--device", "cpu", "--threads", "2"] };
    const c: ToolContext = { label: "llama-cpp[type=q8_0]", launch, flagArgs: [], modelDir: "/m", runnerModelDir: "/m", toolModelDir: "/m", dtype: "f16", outDir: dir, referenceTokens: new Map() };
    expect(llamaBench.refuses!(c)).toBeNull();
    expect(llamaBench.invocation(c, [{ id: "long", ids: [...Array(529).keys()] }], { newTokens: 128, warmup: 1, repeats: 5 })).toEqual({
      command: "/b/bin/llama-bench",
      args: ["-m", "/g/q8_0.gguf", "-p", "0", "-n", "128", "-d", "529", "-r", "5", "-o", "json", "-ngl", "0", "-t", "2"],
    });
    expect(llamaBench.refuses!({ ...c, launch: { ...launch, args: ["--model", "/m"] } })).toMatch(/has no --gguf/);
  });

  it("torch-fast: the label's attention flag reaches its loop as it reaches the runner", () => {
    const [variant] = resolveVariants(["torch-fast[attention=sdpa]"]);
    const flagArgs = variant.flags.flatMap(([name, value]) => variant.framework.flags![name].args(value));
    expect(flagArgs).toEqual(["--attention", "sdpa"]);
    const launch = { framework: variant.label, command: "/py", args: ["runner.py", "--model", "/m", "--dtype", "f16", "--variant", "fast", ...flagArgs] };
    const c: ToolContext = { label: variant.label, launch, flagArgs, modelDir: "/m", runnerModelDir: "/m", toolModelDir: "/m", dtype: "f16", outDir: dir, referenceTokens: new Map() };
    const invocation = torchFastLoop.invocation(c, [{ id: "short", ids: [1, 2, 3] }], { newTokens: 128, warmup: 1, repeats: 5 });
    expect(invocation.command).toBe("/py");
    expect(invocation.args.slice(1, 2)).toEqual(["loop"]);
    expect(invocation.args.slice(-2)).toEqual(["--attention", "sdpa"]);
    expect(() => resolveVariants(["torch-fast[attention=flash]"])).toThrow(/flag attention takes explicit or sdpa, got "flash"/);
  });

  it("an unknown flag is the harness's own error", () => {
    expect(() => resolveVariants(splitFrameworkLabels("burn-cpu[kernel=custom]"))).toThrow(/unknown flag "kernel" for burn-cpu/);
    expect(frameworkByName("torch-fast").readyFramework).toBe("torch-fast");
  });
});

describe("the budget planner shapes a tool's later prompts", () => {
  const full = { newTokens: 128, warmup: 1, repeats: 5 };
  it("full shape before the tool showed its speed, then what fits, then skipped with the planner's reason", () => {
    expect(planToolShape({ full, promptId: "short", promptTokens: 28, laterPromptTokens: [529], remainingSecs: 1, budgetSecs: 150, rates: null })).toEqual({ shape: full });
    // At 1000 tok/s prefill and 10 tok/s decode, 40 s left: timed runs grow first (5), then new tokens.
    // 78 tokens: warm-up (8 tokens) 0.099 + 0.7, 5 × (0.099 + 7.7), score 0.177: 39.97 s; 79 tokens would be 40.47 s.
    const rates = { prefillTps: 1000, decodeTps: 10 };
    const trimmed = planToolShape({ full, promptId: "medium", promptTokens: 99, laterPromptTokens: [], remainingSecs: 40, budgetSecs: 150, rates });
    expect(trimmed).toEqual({ shape: { newTokens: 78, warmup: 1, repeats: 5 } });
    const skipped = planToolShape({ full, promptId: "long", promptTokens: 529, laterPromptTokens: [], remainingSecs: 2, budgetSecs: 150, rates });
    expect("skipped" in skipped && skipped.skipped).toBe(
      "its smallest case (2 timed runs of 8 new tokens) would take ≈4 s at this runner's 1000.0 tok/s prefill and 10.00 tok/s decode, over the 2 s left of its 2 min 30 s budget",
    );;
  });
});

describe("tokens between tools: the harness's agreement rule against the first tool on the same ids", () => {
  const config = { f32_exact: true, min_top1_agreement: 0.9, min_first_divergence: 8, top_k: 5 };
  const [plain, fast, quant] = resolveVariants(["torch", "torch-fast", "mlx-lm[quant=4bit]"]);
  const generate = transformersGenerate("dynamic");
  const tokens = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const short = { id: "short", ids: [...Array(28).keys()].map((i) => 1000 + i) };
  const check = (refs: TokenReferences, tool: FidelityTool, variant: (typeof plain), dtype: "f16" | "f32", t: number[], teacherForced: number[] | null = null, prompt = short) =>
    refs.check({ tool, variant, dtype, device: "cpu", prompt, tokens: t, teacherForced });

  it("the first tool is the reference; a later one is checked (f32 exactly, f16 by first divergence and teacher-forced top-1)", () => {
    const refs = new TokenReferences(config);
    expect(check(refs, generate, plain, "f32", tokens)).toBeNull();
    expect(refs.tokensFor(torchFastLoop, fast, "f32", [short, { id: "long", ids: [7, 8, 9] }])).toEqual(new Map([["short", tokens]]));
    expect(check(refs, torchFastLoop, fast, "f32", [...tokens.slice(0, 9), 0])).toMatchObject({ tool: "torch-fast loop (torch-fast)", reference: "transformers generate (dynamic cache) (torch)", identical: false, first_divergence: 9, passed: false });
    const f16 = new TokenReferences(config);
    check(f16, generate, plain, "f16", tokens);
    // Diverging at 9 ≥ 8 with teacher-forced top-1 9/10 ≥ 0.9: passes; at 5: fails.
    expect(check(f16, torchFastLoop, fast, "f16", [...tokens.slice(0, 9), 0], [...tokens.slice(0, 9), 0])).toMatchObject({ first_divergence: 9, top1_agreement: 0.9, passed: true });
    expect(check(f16, mlxGenerateStep, fast, "f16", [...tokens.slice(0, 5), 0, 0, 0, 0, 0])).toMatchObject({ first_divergence: 5, passed: false });
  });

  it("a tool is not checked against itself, and other prompt ids, dtypes or a quantized label start their own reference", () => {
    const refs = new TokenReferences(config);
    expect(check(refs, generate, plain, "f16", tokens)).toBeNull();
    expect(check(refs, generate, plain, "f16", tokens)).toBeNull();
    expect(check(refs, burnSelfBench, plain, "f16", tokens)).toBeNull(); // 0..P−1 ids: another prompt
    expect(check(refs, generate, plain, "f32", tokens)).toBeNull();
    expect(check(refs, mlxGenerateStep, quant, "f16", [9, 9, 9])).toBeNull();
  });

  it("prompts given as lengths are the ids 0..P−1: a tool on the harness's ids and one on 0..P−1 are checked against each other", () => {
    const refs = new TokenReferences(config);
    const p8 = { id: "p8", ids: [...Array(8).keys()] };
    expect(check(refs, generate, plain, "f32", tokens, null, p8)).toBeNull();
    expect(check(refs, burnSelfBench, plain, "f32", tokens, null, p8)).toMatchObject({ tool: "burn --self-bench (torch)", reference: "transformers generate (dynamic cache) (torch)", prompt_tokens: 8, identical: true });
  });
});

const mlxPython = join(REPO_ROOT, "runners", "mlx-lm", ".venv", "bin", "python");
const mlxRequired = (process.env.BENCH_REQUIRE ?? "").split(",").includes("mlx-lm");
let mlxHere = false;
try {
  readFileSync(mlxPython);
  mlxHere = true;
} catch {
  mlxHere = false;
}

describe.skipIf(!mlxHere && !mlxRequired)("qwen3-bench fidelity --run (mlx-lm on the tiny model, CPU)", () => {
  it("runs each label's tools, checks tokens between tools on the same prompt ids, refuses what a tool cannot run, writes records the table reads", async () => {
    const out = join(dir, "run");
    const result = await execa(
      process.execPath,
      [join(REPO_ROOT, "bench", "cli", "main.ts"), "fidelity", "--run", "--frameworks", "mlx-lm,mlx-lm[device=cpu]", "--model", TEST_MODELS.tiny, "--dtype", "f32",
        "--prompt-lengths", "8", "--new-tokens", "6", "--repeats", "2", "--warmup", "1", "--out", out],
      { cwd: REPO_ROOT, reject: false },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const records = readFidelityJsonl(join(out, "fidelity.jsonl"));
    const runs = records.filter((r) => r.record === "run").map((r) => [r.tool, r.runner, r.prompt_tokens, r.repeat]);
    const step = "mlx-lm generate_step loop";
    const stream = "mlx-lm stream_generate loop";
    expect(runs).toEqual([
      [OURS_TOOL, "mlx-lm", 8, 0], [OURS_TOOL, "mlx-lm", 8, 1],
      [step, "mlx-lm", 8, 0], [step, "mlx-lm", 8, 1], [stream, "mlx-lm", 8, 0], [stream, "mlx-lm", 8, 1],
      ["mlx_lm.benchmark", "mlx-lm", 8, 0], ["mlx_lm.benchmark", "mlx-lm", 8, 1],
      [OURS_TOOL, "mlx-lm[device=cpu]", 8, 0], [OURS_TOOL, "mlx-lm[device=cpu]", 8, 1],
      [step, "mlx-lm[device=cpu]", 8, 0], [step, "mlx-lm[device=cpu]", 8, 1], [stream, "mlx-lm[device=cpu]", 8, 0], [stream, "mlx-lm[device=cpu]", 8, 1],
    ]);
    // Every tool on the harness's ids against the first one, our runner (mlx_lm.benchmark decodes after random ids: not compared). f32 on one CPU: identical.
    const agreements = records.filter((r) => r.record === "agreement");
    const ours = `${OURS_TOOL} (mlx-lm)`;
    expect(agreements.map((r) => [r.tool, r.reference, r.identical, r.passed, r.tokens])).toEqual([
      [`${step} (mlx-lm)`, ours, true, true, 6],
      [`${stream} (mlx-lm)`, ours, true, true, 6],
      [`${OURS_TOOL} (mlx-lm[device=cpu])`, ours, true, true, 6],
      [`${step} (mlx-lm[device=cpu])`, ours, true, true, 6],
      [`${stream} (mlx-lm[device=cpu])`, ours, true, true, 6],
    ]);
    expect(records.filter((r) => r.record === "error")).toEqual([
      expect.objectContaining({ tool: "mlx_lm.benchmark", runner: "mlx-lm[device=cpu]", message: expect.stringMatching(/takes no runner flags/) }),
    ]);
    expect(result.stdout).toMatch(/\| mlx-lm \| – \(8\) \| [0-9.]+ \([0-9.]+–[0-9.]+, 2\) \| mlx_lm\.benchmark \| [0-9.]+ \([0-9.]+–[0-9.]+, 2\) \| [0-9.]+× \|/);
  });
});

// torch-fast's loop (the runner's and the fidelity tool's) is compiled with CUDA graphs on a GPU only.
// Here, wherever torch is, Dynamo must still trace its decode step as one graph (fullgraph: a graph
// break is an error) and the traced step give the eager tokens.
const torchFast = frameworkByName("torch-fast");
const torchFastHere = (await torchFast.probe()).available;
const torchRequired = (process.env.BENCH_REQUIRE ?? "").split(",").includes("torch-fast");

describe.skipIf(!torchFastHere && !torchRequired)("torch-fast's decode step", () => {
  it("traces as one graph (torch.compile fullgraph=True) and gives the eager tokens", async () => {
    const python = (await launchVariant(resolveVariants(["torch-fast"])[0], TEST_MODELS.tiny, "f32")).command;
    const script = [
      "import sys, time, torch",
      `sys.path.insert(0, ${JSON.stringify(join(REPO_ROOT, "runners", "torch"))})`,
      "from pathlib import Path",
      "from fast_decode import StaticDecoder",
      `d = StaticDecoder(Path(${JSON.stringify(TEST_MODELS.tiny)}), torch.float32, torch.device("cpu"), 1024)`,
      "eager, _ = d.generate(list(range(8)), 8, time.perf_counter_ns())",
      "d.step = torch.compile(d.decode_step, backend='eager', fullgraph=True)",
      "traced, _ = d.generate(list(range(8)), 8, time.perf_counter_ns())",
      "print(eager == traced, eager)",
    ].join("\n");
    const result = await execa(python, ["-c", script], { reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^True \[/);
  });
});
