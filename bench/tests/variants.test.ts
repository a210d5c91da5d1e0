// Runner variants as framework labels (framework-label.ts, variants.ts) and the A/B pairing of the
// report (report/cases.ts, report/comparison.ts): label syntax and validation errors, the paired ratio on runs built
// by hand, and a real A/B run of two burn-cpu labels, interleaved, on the tiny f32 model.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { hasSharedBase, labelFileStem, parseFrameworkLabel } from "../harness/framework-label.ts";
import { FRAMEWORKS } from "../harness/frameworks.ts";
import { burnFlagRefusal } from "../harness/frameworks-burn.ts";
import { FIXTURES_DIR } from "../harness/paths.ts";
import { BURN_FLAGS } from "../harness/runner-flags.ts";
import { decideInterleave } from "../harness/plan.ts";
import { resultsFileName } from "../harness/results-writer.ts";
import { runRotation } from "../harness/schedule.ts";
import type { RunRecord } from "../harness/schema/results.ts";
import { FrameworkSession } from "../harness/session.ts";
import { readSettings } from "../harness/settings.ts";
import { buildBinaryEnv, launchVariant, probeVariant, resolveVariant, resolveVariants } from "../harness/variants.ts";
import { abCases } from "../report/cases.ts";
import { ALL_PROMPTS, compareCases, DEFAULT_GATE, pooledComparison } from "../report/comparison.ts";
import { loadResults } from "../report/summary.ts";
import { tinyPlan } from "./tiny-plan.ts";

describe("framework labels", () => {
  test("parse flags and a build; the file stem has no glob characters", () => {
    expect(parseFrameworkLabel("burn-cuda[decode-graph=off,attention=burn]@head")).toEqual({
      base: "burn-cuda",
      flags: [["decode-graph", "off"], ["attention", "burn"]],
      build: "head",
    });
    expect(parseFrameworkLabel("torch")).toEqual({ base: "torch", flags: [], build: null });
    // A kernel set joins its parts with '+' (runners/burn/src/kernels/mod.rs, `Kernels::parse`).
    expect(parseFrameworkLabel("burn-cuda[kernels=gemv+norm]").flags).toEqual([["kernels", "gemv+norm"]]);
    expect(resolveVariant("burn-cuda[kernels=gemv+norm+attention]").label).toBe("burn-cuda[kernels=gemv+norm+attention]");
    expect(() => resolveVariant("burn-cuda[kernels=norm+gemv]")).toThrow(/flag kernels takes burn or gemv or gemv\+norm or gemv\+norm\+attention or gemv\+norm\+attention\+fuse or gemv\+norm\+attention\+fuse\+prenorm or custom or custom\+rows, got "norm\+gemv"/);
    // One weight layout (`rows`) on top of every kernel: the A/B label against custom.
    expect(resolveVariant("burn-cuda[kernels=custom+rows]").label).toBe("burn-cuda[kernels=custom+rows]");
    expect(parseFrameworkLabel("burn-cuda[kernels=custom+rows]").flags).toEqual([["kernels", "custom+rows"]]);
    expect(labelFileStem("burn-cuda[decode-graph=off,attention=burn]@head")).toBe("burn-cuda.decode-graph=off.attention=burn@head");
    expect(resultsFileName("burn-cpu[attention=explicit]")).toBe("burn-cpu.attention=explicit_results.json");
    expect(hasSharedBase(["burn-cpu@base", "burn-cpu@head"])).toBe(true);
    expect(hasSharedBase(["torch", "burn-cpu"])).toBe(false);
    expect(readSettings({ BENCH_FRAMEWORKS: "burn-cpu[attention=burn,decode-graph=off], torch,burn-cpu@head" }).frameworks).toEqual([
      "burn-cpu[attention=burn,decode-graph=off]",
      "torch",
      "burn-cpu@head",
    ]);
  });

  test.each([
    ["burn-cpu[", /not a framework label/],
    ["burn-cpu[]", /empty flag list/],
    ["burn-cpu[attention]", /expected attention=VALUE/],
    ["burn-cpu[attention=a/b]", /expected attention=VALUE/],
    ["burn-cpu[attention=burn,attention=explicit]", /given twice/],
    ["Burn-CPU", /not a framework label/],
  ])("syntax error in %s names BENCH_FRAMEWORKS", (label, message) => {
    expect(() => parseFrameworkLabel(label)).toThrow(/^BENCH_FRAMEWORKS: /);
    expect(() => parseFrameworkLabel(label)).toThrow(message);
  });

  test("flags are checked against the framework's declaration, one clear error each", () => {
    expect(() => resolveVariant("burn-cpu[fast=yes]")).toThrow('BENCH_FRAMEWORKS: burn-cpu[fast=yes]: unknown flag "fast" for burn-cpu (accepts: attention, decode-graph, kernels, prefill-chunk, chunk-attention, split-from, memory-plan, quant)');
    expect(() => resolveVariant("burn-cpu[attention=flash]")).toThrow('BENCH_FRAMEWORKS: burn-cpu[attention=flash]: flag attention takes burn or explicit, got "flash"');
    expect(() => resolveVariant("torch[attention=burn]")).toThrow('unknown flag "attention" for torch (it accepts no flags)');
    expect(() => resolveVariant("nope[attention=burn]")).toThrow(/BENCH_FRAMEWORKS: unknown framework "nope"/);
    expect(() => resolveVariants(["burn-cpu[attention=burn,decode-graph=off]", "burn-cpu[decode-graph=off,attention=burn]"])).toThrow(/name the same variant/);
  });

  test("split-from takes a count of cache slots from its list and becomes the runner's --split-from", () => {
    expect(resolveVariant("burn-cuda[split-from=256,kernels=custom]").label).toBe("burn-cuda[kernels=custom,split-from=256]");
    expect(BURN_FLAGS["split-from"].args("256")).toEqual(["--split-from", "256"]);
    expect(() => resolveVariant("burn-cuda[kernels=custom,split-from=300]")).toThrow('flag split-from takes 0 or 256 or 512 or 768 or 1024 or 2048, got "300"');
  });

  test("a build needs BENCH_BIN_<BUILD>, an executable file", () => {
    expect(buildBinaryEnv("pr-42")).toBe("BENCH_BIN_PR_42");
    expect(() => resolveVariant("burn-cpu@head", {})).toThrow("BENCH_FRAMEWORKS: burn-cpu@head: build \"head\" needs BENCH_BIN_HEAD=PATH");
    expect(() => resolveVariant("burn-cpu@head", { BENCH_BIN_HEAD: "/no/such/runner" })).toThrow(/BENCH_BIN_HEAD: \/no\/such\/runner is not an executable file/);
  });

  test("a variant launches its framework's command with the build's program and the flags' arguments, flags in declaration order", async () => {
    const program = join(mkdtempSync(join(tmpdir(), "qwen3-bench-variant-")), "runner");
    writeFileSync(program, "#!/bin/sh\n");
    chmodSync(program, 0o755);
    const variant = resolveVariant("burn-cpu[decode-graph=off,attention=explicit]@head", { BENCH_BIN_HEAD: program });
    expect(variant.label).toBe("burn-cpu[attention=explicit,decode-graph=off]@head");
    const spec = await launchVariant(variant, "/models/m", "f32");
    expect(spec.framework).toBe(variant.label);
    expect(spec.command).toBe(program);
    expect(spec.args).toEqual(["--model", "/models/m", "--dtype", "f32", "--backend", "cpu", "--attention", "explicit", "--decode-graph", "off"]);
  });

  test("interleaving: BENCH_INTERLEAVE decides; else on with an accelerator or an A/B run", () => {
    expect(() => readSettings({ BENCH_INTERLEAVE: "yes" })).toThrow(/BENCH_INTERLEAVE/);
    expect(decideInterleave(readSettings({ BENCH_INTERLEAVE: "off" }), true, ["torch"])).toBe(false);
    expect(decideInterleave(readSettings({ BENCH_INTERLEAVE: "on" }), false, ["torch"])).toBe(true);
    expect(decideInterleave(readSettings({}), true, ["torch", "burn-cuda"])).toBe(true);
    expect(decideInterleave(readSettings({}), false, ["torch", "burn-cpu"])).toBe(false);
    expect(decideInterleave(readSettings({}), false, ["burn-cpu", "burn-cpu[attention=burn]"])).toBe(true);
  });
});

/** A timed run with the given decode speed: 1 + steps tokens at 1000 / tps ms each, sent at `startedAtMs`. */
function run(iteration: number, tps: number, startedAtMs: number): RunRecord {
  const steps = 16;
  const stepMs = 1000 / tps;
  return {
    prompt_id: "p", iteration, prompt_token_ids: [1], prompt_tokens: 1, token_ids: [], tokens_generated: steps + 1,
    per_token_latencies_ms: [5, ...Array.from({ length: steps }, () => stepMs)], ttft_secs: 0.005, decode_time_secs: (steps * stepMs) / 1000,
    total_time_secs: 0.005 + (steps * stepMs) / 1000, decode_tps: tps, prefill_tps: 200, peak_rss_mb: 1, peak_device_mb: null,
    harness_overhead_ms: 0, started_at: new Date(startedAtMs).toISOString(),
  };
}

const ab = (a: RunRecord[], b: RunRecord[], promptId = "p") => ({ promptId, baseline: { label: "x@base", runs: a }, candidate: { label: "x@head", runs: b } });

describe("A/B pairing", () => {
  test("the paired ratio cancels drift that the independent ratio cannot", () => {
    // The host slows down 30 % over the run; B is 5 % slower than A in every pair.
    const drift = [100, 90, 80, 75, 70];
    const a = drift.map((tps, i) => run(i, tps, 1000 * (2 * i)));
    const b = drift.map((tps, i) => run(i, tps * 0.95, 1000 * (2 * i + 1)));
    const [c] = compareCases([ab(a, b)], "paired");
    expect(c).toMatchObject({ pairing: "paired", baselineRuns: 5, interleaved: true, verdict: "slower" });
    expect(c.ratio.estimate).toBeCloseTo(0.95, 10);
    expect(c.ratio.low).toBeCloseTo(0.95, 10);
    expect(c.ratio.high).toBeCloseTo(0.95, 10);
    expect(compareCases([ab(a, b)], "paired", { ...DEFAULT_GATE, band: 0.1 })[0].verdict).toBe("within noise");
    // The same runs as independent samples: the drift swamps the 5 %.
    expect(compareCases([ab(a, b)], "independent")[0].verdict).toBe("inconclusive");
  });

  test("pooling the prompts' pairs: nine pairs, whose interval is narrower than [min, max] of three", () => {
    // Per prompt, B's step takes 8 %, 12 % or 10 % longer (±1 % noise per pair).
    const cases = [1.08, 1.12, 1.1].map((slow, k) => {
      const a = [0, 1, 2].map((i) => run(i, 100, 1000 * (2 * i)));
      const b = [0, 1, 2].map((i) => run(i, 100 / (slow + (i - 1) * 0.01), 1000 * (2 * i + 1)));
      return ab(a, b, `p${k}`);
    });
    const comparisons = compareCases(cases, "paired");
    const pooled = comparisons.at(-1)!;
    expect(comparisons.map((c) => c.promptId)).toEqual(["p0", "p1", "p2", ALL_PROMPTS]);
    expect(pooled.baselineRuns).toBe(9);
    expect(1 / pooled.ratio.estimate).toBeCloseTo(1.1, 10);
    expect(1 / pooled.ratio.high).toBeGreaterThan(1.07);
    expect(1 / pooled.ratio.low).toBeLessThan(1.13);
    expect(pooled.verdict).toBe("slower");
    expect(() => pooledComparison([comparisons[0], { ...comparisons[1], candidate: "y" }])).toThrow(/one \(baseline, candidate, pairing\)/);
    expect(() => pooledComparison([comparisons[0], pooled])).toThrow(/itself pooled/);
  });

  test("runs in blocks are paired by iteration but not called interleaved", () => {
    const a = [0, 1, 2].map((i) => run(i, 100, 1000 * i));
    const b = [0, 1, 2].map((i) => run(i, 100, 10_000 + 1000 * i));
    expect(compareCases([ab(a, b)], "paired")[0].interleaved).toBe(false);
  });
});

const burnAvailable = (await FRAMEWORKS.find((f) => f.name === "burn-cpu")!.probe()).available;

describe.runIf(burnAvailable)("Burn flags the runner refuses together (burn-cpu's binary)", () => {
  test("are the label's skip reason in doctor, in the runner's own words (--check-flags), not a failed start", async () => {
    const kernels = await probeVariant(resolveVariant("burn-cpu[kernels=gemv]"));
    expect(kernels.available).toBe(false);
    // A CPU-only binary has no CubeCL backend; one with CUDA or wgpu says burn-cpu is not CubeCL.
    expect(kernels.reason).toMatch(/^kernels=gemv: --kernels gemv: .*CubeCL/);
    expect(await burnFlagRefusal("cpu", [["quant", "q8"], ["kernels", "gemv+norm"]])).toMatch(/^quant=q8,kernels=gemv\+norm: --quant q8: .*run --kernels without gemv/);
    expect(await burnFlagRefusal("cpu", [["kernels", "burn"], ["quant", "q4"]])).toBeNull();
    expect(await burnFlagRefusal("cpu", [["split-from", "256"]])).toMatch(/^split-from=256: --split-from 256: .*needs kernels part split/);
    expect(await burnFlagRefusal("cpu", [])).toBeNull();
    expect((await probeVariant(resolveVariant("burn-cpu[quant=q4]"))).available).toBe(true);
  });
});

describe.runIf(burnAvailable)("a real A/B run (burn-cpu, tiny f32 model)", () => {
  test("two labels of burn-cpu, interleaved: own results files, the flag reaches the runner, the report pairs them", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-ab-"));
    const fixture = JSON.parse(readFileSync(join(FIXTURES_DIR, "prompt_token_ids.json"), "utf8"));
    const prompt = { id: "short", text: "", promptTokenIds: fixture.prompts.short.prompt_token_ids as number[] };
    const plan = tinyPlan(runDir, {
      profile: { max_new_tokens: 16, warmup_iterations: 1, timed_iterations: 3, cooldown_secs: 0 },
      reference: "burn-cpu",
      interleave: true,
      prompts: [prompt],
    });

    const labels = ["burn-cpu", "burn-cpu[attention=burn]"];
    const sessions = labels.map((label) => new FrameworkSession(plan, label));
    const outcomes = await runRotation(sessions, prompt);
    await Promise.all(sessions.map((s) => s.close()));
    for (const o of outcomes) expect(o.errors).toEqual([]);

    const model = loadResults([runDir]);
    expect(model.labels).toEqual(labels);
    const notes = (label: string) => model.files.find((f) => f.label === label)!.results.ready.notes;
    expect(notes("burn-cpu")).toContain("attention=explicit");
    expect(notes("burn-cpu[attention=burn]")).toContain("attention=burn");
    expect(readFileSync(join(runDir, "burn-cpu.attention=burn_results.json"), "utf8")).toContain('"framework": "burn-cpu[attention=burn]"');
    const [pair] = compareCases(abCases(model), "paired");
    expect(pair).toMatchObject({ baseline: "burn-cpu", candidate: "burn-cpu[attention=burn]", promptId: "short", baselineRuns: 3, interleaved: true });
    // Both attention bodies compute the same greedy tokens (f32).
    expect(outcomes[1].runs[0].token_ids).toEqual(outcomes[0].runs[0].token_ids);
  }, 300_000);
});
