import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { burnBinary } from "../harness/setup/burn-build.ts";
import { OURS_TOOL, type FidelityRecord } from "../harness/schema/fidelity.ts";
import { fidelityMarkdown, fidelityRows, readFidelityJsonl, type RunnerCase } from "../report/fidelity.ts";

const run = (tool: string, runner: string, prompt: number, tps: number[], same = true, newTokens = 128, dtype = "f16"): FidelityRecord[] =>
  tps.map((decode_tps, repeat) => ({ record: "run", tool, runner, same_code_path: same, prompt_tokens: prompt, new_tokens: newTokens, repeat, decode_tps, dtype }));

const ourCase = (runner: string, promptTokens: number, decodeTps: number, newTokens = 128): RunnerCase => ({
  runner, promptId: `p${promptTokens}`, promptTokens, newTokens, precision: "f16", decodeTps, low: decodeTps - 1, high: decodeTps + 1,
});

const dir = mkdtempSync(join(tmpdir(), "fidelity-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const jsonl = (name: string, lines: unknown[]) => {
  const file = join(dir, name);
  writeFileSync(file, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n");
  return file;
};

describe("fidelityRows", () => {
  const cases = [ourCase("torch-compile", 28, 290), ourCase("burn-cuda", 28, 118), ourCase("burn-cuda", 99, 100, 256), ourCase("mlx-lm", 28, 200)];

  it("sets the median of the tool's runs beside our runner's, with the ratio and the 3 % target on the same code path only", () => {
    const records = [
      ...run("hand-written torch", "torch-compile", 28, [400, 420, 410, 430], false), // median of 4: (410 + 420) / 2 = 415
      ...run("burn --self-bench", "burn-cuda", 28, [120, 118, 119]), // median 119: 118 / 119 = 0.9916, inside 3 %
      ...run("mlx_lm.benchmark", "mlx-lm", 28, [210, 212, 208]), // median 210: 200 / 210 = 0.952, outside
    ];
    const rows = fidelityRows(cases, records);
    const hand = rows.find((r) => r.tool === "hand-written torch")!;
    expect(hand.theirs).toEqual({ tps: 415, min: 400, max: 430, runs: 4, newTokens: 128 });
    expect(hand.ratio).toBeCloseTo(290 / 415, 12);
    expect(hand.withinTarget).toBeNull(); // another code path: the gap is reported, not judged
    const burn = rows.find((r) => r.runner === "burn-cuda")!;
    expect(burn.ratio).toBeCloseTo(118 / 119, 12);
    expect(burn.withinTarget).toBe(true);
    expect(burn.promptId).toBe("p28");
    const mlx = rows.find((r) => r.runner === "mlx-lm")!;
    expect(mlx.ratio).toBeCloseTo(200 / 210, 12);
    expect(mlx.withinTarget).toBe(false);
    expect(rows.map((r) => r.runner)).toEqual(["burn-cuda", "mlx-lm", "torch-compile"]);
  });

  it("says when the settings differ or our runner has no such case", () => {
    const rows = fidelityRows(cases, [...run("burn --self-bench", "burn-cuda", 99, [100, 101, 102]), ...run("burn --self-bench", "burn-cuda", 529, [90], true, 128, "bf16")]);
    expect(rows[0].notes).toEqual(["new tokens differ: ours 256, tool 128"]);
    expect(rows[1].ours).toBeNull();
    expect(rows[1].ratio).toBeNull();
    expect(rows[1].withinTarget).toBeNull();
    expect(rows[1].notes).toEqual(["no burn-cuda results at 529 prompt tokens"]);
  });

  it("takes ours from our runner's runs in the same fidelity run where there are any (median, min–max, runs), the results folder's figure then a note; our runner's error on its rows", () => {
    const records: FidelityRecord[] = [
      ...run(OURS_TOOL, "burn-cuda", 28, [130, 126, 128, 127]), // median (127 + 128) / 2 = 127.5
      ...run("burn --self-bench", "burn-cuda", 28, [125, 125]),
      ...run(OURS_TOOL, "mlx-lm", 28, []),
      { record: "error", tool: OURS_TOOL, runner: "mlx-lm", prompt_tokens: null, message: "the runner did not start" },
      ...run("mlx_lm.benchmark", "mlx-lm", 28, [210]),
    ];
    const rows = fidelityRows(cases, records);
    expect(rows.map((r) => [r.runner, r.tool])).toEqual([["burn-cuda", "burn --self-bench"], ["mlx-lm", "mlx_lm.benchmark"]]);
    expect(rows[0].ours).toEqual({ tps: 127.5, low: 126, high: 130, newTokens: 128, runs: 4 });
    expect(rows[0].ratio).toBeCloseTo(127.5 / 125, 12);
    expect(rows[0].notes).toEqual(["the results folder's run: 118 tok/s"]);
    // No runs of ours for mlx-lm: the results folder's case, and ours' error.
    expect(rows[1].ours).toEqual({ tps: 200, low: 199, high: 201, newTokens: 128, runs: null });
    expect(rows[1].notes).toEqual(["our runner's error: the runner did not start"]);
    const markdown = fidelityMarkdown(rows, records);
    expect(markdown).toContain("| burn-cuda | p28 (28) | 128 (126–130, 4) | burn --self-bench | 125 (125–125, 2) | 1.020× | yes | the results folder's run: 118 tok/s |");
    expect(markdown).toContain("| mlx-lm | p28 (28) | 200 (199–201) | mlx_lm.benchmark |");
  });

  it("keeps a failed tool as rows with its error: on each of our runner's lengths when the whole tool failed", () => {
    const records: FidelityRecord[] = [
      { record: "meta", tool: "transformers generate", runner: "torch-compile", same_code_path: true } as FidelityRecord,
      { record: "error", tool: "transformers generate", runner: "torch-compile", prompt_tokens: null, message: "exit 1: CUDA out of memory" },
      ...run("burn --self-bench", "burn-cuda", 28, [119]),
      { record: "error", tool: "burn --self-bench", runner: "burn-cuda", prompt_tokens: 99, message: "timed out after 150 s" },
    ];
    const rows = fidelityRows(cases, records);
    const transformers = rows.filter((r) => r.tool === "transformers generate");
    expect(transformers).toHaveLength(1);
    expect(transformers[0]).toMatchObject({ promptTokens: 28, theirs: null, ratio: null, sameCodePath: true, notes: ["tool error: exit 1: CUDA out of memory"] });
    const burn99 = rows.find((r) => r.runner === "burn-cuda" && r.promptTokens === 99)!;
    expect(burn99.theirs).toBeNull();
    expect(burn99.ours?.tps).toBe(100);
    expect(burn99.notes).toEqual(["tool error: timed out after 150 s"]);
    const markdown = fidelityMarkdown(rows, records);
    expect(markdown).toContain("| torch-compile | p28 (28) | 290 (289–291) | transformers generate | – | – | – | tool error: exit 1: CUDA out of memory |");
  });
});

describe("readFidelityJsonl", () => {
  it("names the file, the line and the field of a bad record", () => {
    const file = jsonl("bad.jsonl", [...run("burn --self-bench", "burn-cuda", 28, [119]), { record: "run", tool: "x", runner: "y", same_code_path: true, prompt_tokens: 28, new_tokens: 128, repeat: 0, dtype: "f16" }]);
    expect(() => readFidelityJsonl(file)).toThrow(new RegExp(`${file}: line 2: decode_tps: `));
    expect(() => readFidelityJsonl(jsonl("notjson.jsonl", ["{", ""]))).toThrow(/line 1: not valid JSON/);
    expect(() => readFidelityJsonl(jsonl("empty.jsonl", [{ record: "meta", tool: "qwen3-bench fidelity --run", runner: null }]))).toThrow(/holds no run or error records/);
  });
});

describe("qwen3-bench fidelity", () => {
  it("joins a published results folder with a fidelity.jsonl into the table", () => {
    // docs/results/2026-11-26-h200-decode-graph: torch-compile short (28 tokens) median 290.0 tok/s, burn-cuda short 118.3, f16, 128 new tokens.
    const file = jsonl("h200.jsonl", [
      { record: "meta", tool: "hand-written torch", runner: "torch-compile", same_code_path: false, framework_version: "torch 2.11.0", device: "NVIDIA H200", notes: ["static KV cache"] },
      ...run("hand-written torch", "torch-compile", 28, [410, 400, 420], false),
      ...run("burn --self-bench", "burn-cuda", 28, [119, 120, 121]),
      { record: "agreement", tool: "hand-written torch", reference: "transformers generate", device: "cuda", dtype: "f16", prompt_tokens: 28, tokens: 128, identical: false, first_divergence: 40, top1_agreement: 0.98, passed: true },
    ]);
    const result = spawnSync(process.execPath, [join(REPO_ROOT, "bench", "cli", "main.ts"), "fidelity", join(REPO_ROOT, "docs", "results", "2026-11-26-h200-decode-graph"), file], { encoding: "utf8", cwd: REPO_ROOT });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    // 290.0 / 410 = 0.707; 118.3 / 120 = 0.986.
    expect(result.stdout).toMatch(/\| torch-compile \| short \(28\) \| 290 \(\d+–\d+\) \| hand-written torch \| 410 \(400–420, 3\) \| 0\.707× \| other code path \| +\|/);
    expect(result.stdout).toMatch(/\| burn-cuda \| short \(28\) \| 118 \(\d+–\d+\) \| burn --self-bench \| 120 \(119–121, 3\) \| 0\.986× \| yes \| +\|/);
    expect(result.stdout).toContain("- hand-written torch (torch-compile): torch 2.11.0; NVIDIA H200; static KV cache");
    expect(result.stdout).toContain("| hand-written torch | transformers generate | cuda, f16 | 28 | 128 | 40 | 0.980 | yes |");
  });

  it("refuses a missing file with one clear error", () => {
    const result = spawnSync(process.execPath, [join(REPO_ROOT, "bench", "cli", "main.ts"), "fidelity", join(REPO_ROOT, "docs", "results", "2026-11-26-h200-decode-graph"), join(dir, "missing.jsonl")], { encoding: "utf8", cwd: REPO_ROOT });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/missing\.jsonl: cannot be read \(ENOENT\)/);
  });
});

// `fidelity --run` runs once on a GPU host, with no second chance: check here, with the Burn CPU
// runner on the tiny model, that it drives a real runner's --self-bench with a label's flags, checks
// the variants' tokens by the harness's rule, and keeps going past a label it cannot run here.
const burnRequired = (process.env.BENCH_REQUIRE ?? "").split(",").includes("burn-cpu");

describe.skipIf(!existsSync(burnBinary()) && !burnRequired)("qwen3-bench fidelity --run (Burn)", () => {
  const explicit = "burn-cpu[attention=explicit]";
  const fidelityRun = (out: string, extra: string[] = []) =>
    execa(process.execPath, [join(REPO_ROOT, "bench", "cli", "main.ts"), "fidelity", "--run", "--frameworks", `burn-cpu,${explicit},burn-cuda`, "--model", TEST_MODELS.tiny,
      "--dtype", "f32", "--prompt-lengths", "8,16", "--new-tokens", "8", "--repeats", "2", "--out", out, ...extra], { cwd: REPO_ROOT, reject: false });

  it("times our runner (the benchmark's own measurement) and then the Burn runner's --self-bench (a label's runner flags passed on) in one call, writes fidelity.jsonl the CLI reads, and reports a label it cannot run as an error row", async () => {
    const out = join(dir, "fidelity-run");
    const result = await fidelityRun(out);
    expect(result.exitCode, result.stderr).toBe(0);
    const records = readFidelityJsonl(join(out, "fidelity.jsonl"));
    const runs = records.filter((r) => r.record === "run");
    const each = (runner: string, tool: string) => [[runner, tool, 8, 0], [runner, tool, 8, 1], [runner, tool, 16, 0], [runner, tool, 16, 1]];
    // Each label's own runner first, then its tool.
    expect(runs.map((r) => [r.runner, r.tool, r.prompt_tokens, r.repeat])).toEqual([
      ...each("burn-cpu", OURS_TOOL), ...each("burn-cpu", "burn --self-bench"), ...each(explicit, OURS_TOOL), ...each(explicit, "burn --self-bench"),
    ]);
    // A label's runner flags reach the runner as its arguments (the log holds the command line).
    expect(readFileSync(join(out, "burn-cpu.attention=explicit.burn---self-bench.log"), "utf8")).toContain("--backend cpu --attention explicit --self-bench 8,8,3");
    for (const r of runs) expect(r.decode_tps).toBeGreaterThan(0);
    // Our runner's requests went to a benchmark results file of its own, one per label and round.
    const ours = readdirSync(join(out, "ours")).sort();
    expect(ours.map((d) => d.replace(/-\d{4}-\d\d-\d\dT.*$/, ""))).toEqual(["burn-cpu", "burn-cpu.attention=explicit"]);
    const results = JSON.parse(readFileSync(join(out, "ours", ours[0], "burn-cpu_results.json"), "utf8"));
    expect(results.runs.map((r: { decode_tps: number }) => r.decode_tps)).toEqual(runs.filter((r) => r.tool === OURS_TOOL && r.runner === "burn-cpu").map((r) => r.decode_tps));
    // Every greedy token sequence against the first on the same ids (prompts as lengths: ids 0..P−1, which --self-bench decodes after too),
    // our runner's: f32 on the CPU, the runner, its own loop and both attention bodies give the same tokens.
    const first = `${OURS_TOOL} (burn-cpu)`;
    expect(records.filter((r) => r.record === "agreement").map((r) => [r.tool, r.reference, r.prompt_tokens, r.identical, r.passed])).toEqual([
      ["burn --self-bench (burn-cpu)", first, 8, true, true],
      ["burn --self-bench (burn-cpu)", first, 16, true, true],
      [`${OURS_TOOL} (${explicit})`, first, 8, true, true],
      [`${OURS_TOOL} (${explicit})`, first, 16, true, true],
      [`burn --self-bench (${explicit})`, first, 8, true, true],
      [`burn --self-bench (${explicit})`, first, 16, true, true],
    ]);
    expect(records.filter((r) => r.record === "error").map((e) => [e.runner, e.tool, e.prompt_tokens])).toEqual([["burn-cuda", OURS_TOOL, null], ["burn-cuda", "burn --self-bench", null]]);
    expect(records.find((r) => r.record === "meta" && r.runner === "burn-cpu" && r.tool === "burn --self-bench")).toMatchObject({ framework_version: expect.stringMatching(/^burn /) });
    // Ours from this run: median (min–max, runs), and the ratio against the tool.
    expect(result.stdout).toMatch(/\| burn-cpu \| – \(8\) \| [0-9.]+ \([0-9.]+–[0-9.]+, 2\) \| burn --self-bench \| [0-9.]+ \([0-9.]+–[0-9.]+, 2\) \| [0-9.]+× \|/);
    // Not available here: one note, not the same words for our runner and for its tool.
    expect(result.stdout).toMatch(/\| burn-cuda \| – \| – \| burn --self-bench \| – \| – \| – \| tool error: burn-cuda is not available here[^;|]*\|/);
  });

  it("--tools-only: the tools alone, no runner of ours started", async () => {
    const out = join(dir, "fidelity-tools-only");
    const result = await fidelityRun(out, ["--tools-only"]);
    expect(result.exitCode, result.stderr).toBe(0);
    const records = readFidelityJsonl(join(out, "fidelity.jsonl"));
    expect(records.filter((r) => r.tool === OURS_TOOL)).toEqual([]);
    expect(new Set(records.filter((r) => r.record === "run").map((r) => r.tool))).toEqual(new Set(["burn --self-bench"]));
    expect(existsSync(join(out, "ours"))).toBe(false);
    expect(result.stdout).toMatch(/\| burn-cpu \| – \(8\) \| – \| burn --self-bench \| [0-9.]+ \([0-9.]+–[0-9.]+, 2\) \| – \|/);
  });
});
