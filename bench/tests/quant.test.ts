// Quantized MLX rows (mlx-lm[quant=4bit], [quant=8bit]): the harness makes the copy with mlx-lm's own
// converter and caches it with its record (converter version, sha256, weight bytes); the runner loads
// it; the results file carries the record and the copy's weight bytes; a quantized row is checked
// against its own framework's unquantized row, teacher-forced, with the threshold of agreement.ts.
// Burn rows (burn-cpu[quant=q8|q4]) quantize at load with Burn's own quantization: no copy, no
// record; the flag names the bits the threshold takes.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { labelQuantizedBits, quantizedMinTop1, unquantizedLabels } from "../harness/agreement.ts";
import { checkModelDir } from "../harness/model/validate.ts";
import { ensureMlxConverted, ensureMlxQuantized, mlxConvertedDir, mlxQuantDir, safetensorsTensorBytes } from "../harness/mlx-quant.ts";
import { PROMPTS_FILE } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { loadPromptsFile } from "../harness/prompts-file.ts";
import { BURN_FLAGS, MLX_LM_FLAGS } from "../harness/runner-flags.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { FrameworkSession } from "../harness/session.ts";
import { PromptTokenizer } from "../harness/tokenize.ts";
import { launchVariant, probeVariant, resolveVariant } from "../harness/variants.ts";
import { precisionGroup } from "../report/precision-group.ts";
import { tinyPlan } from "./tiny-plan.ts";

describe("labels", () => {
  test("quant takes 4bit or 8bit on mlx-lm; a quantized label's unquantized row is the label without it", () => {
    expect(resolveVariant("mlx-lm[quant=4bit]").label).toBe("mlx-lm[quant=4bit]");
    expect(() => resolveVariant("mlx-lm[quant=3bit]")).toThrow(/flag quant takes 4bit or 8bit/);
    expect(() => resolveVariant("mlx-swift[quant=4bit]")).toThrow(/unknown flag "quant" for mlx-swift/);
    expect(unquantizedLabels("mlx-lm[quant=4bit]", MLX_LM_FLAGS, "f16")).toEqual(["mlx-lm"]);
    expect(unquantizedLabels(resolveVariant("mlx-lm[dtype=bf16,quant=8bit,device=cpu]").label, MLX_LM_FLAGS, "f16")).toEqual(["mlx-lm[device=cpu,dtype=bf16]"]);
    expect(unquantizedLabels("mlx-lm[device=cpu]", MLX_LM_FLAGS, "f16")).toBeNull();
  });

  test("quant takes q8 or q4 on burn, checked against the label without it with the flag's bits", () => {
    expect(resolveVariant("burn-cpu[quant=q8]").label).toBe("burn-cpu[quant=q8]");
    expect(() => resolveVariant("burn-cpu[quant=q2]")).toThrow(/flag quant takes q8 or q4/);
    expect(unquantizedLabels("burn-cpu[quant=q4]", BURN_FLAGS, "f16")).toEqual(["burn-cpu"]);
    expect(unquantizedLabels("burn-cpu[attention=burn,quant=q8]", BURN_FLAGS, "f16")).toEqual(["burn-cpu[attention=burn]"]);
    expect(labelQuantizedBits("burn-cpu[quant=q8]", BURN_FLAGS)).toBe(8);
    expect(labelQuantizedBits("burn-cpu[quant=q4]", BURN_FLAGS)).toBe(4);
    expect(labelQuantizedBits("burn-cpu[attention=burn]", BURN_FLAGS)).toBeNull();
    expect(labelQuantizedBits("mlx-lm[quant=4bit]", MLX_LM_FLAGS)).toBeNull();
    expect(BURN_FLAGS.quant.args("q4")).toEqual(["--quant", "q4"]);
  });

  test("the threshold: an f32 8-bit row must agree more than a 4-bit or a bf16 one; an unknown width keeps the strict rule", () => {
    expect(quantizedMinTop1(8, "f32")).toBeGreaterThan(quantizedMinTop1(4, "f32"));
    expect(quantizedMinTop1(8, "f32")).toBeGreaterThan(quantizedMinTop1(8, "bf16"));
    expect(quantizedMinTop1(null, "f16")).toBe(quantizedMinTop1(8, "f32"));
    expect(quantizedMinTop1(4, "bf16")).toBeGreaterThan(0);
  });
});

test("a safetensors file's tensor bytes are its parameters times their width (tiny f32 model)", () => {
  const info = checkModelDir(TEST_MODELS.tiny).info("f32");
  expect(safetensorsTensorBytes(join(TEST_MODELS.tiny, "model.safetensors"))).toBe(info.parameter_count * 4);
});

const mlxLm = await probeVariant(resolveVariant("mlx-lm"));

describe.skipIf(!mlxLm.available)("mlx-lm (CPU, tiny f32 model)", () => {
  test("the copy is made by mlx_lm convert, recorded, and taken from the cache the second time", async () => {
    const cacheRoot = mkdtempSync(join(tmpdir(), "qwen3-bench-quant-"));
    const spec = await launchVariant(resolveVariant("mlx-lm"), TEST_MODELS.tiny, "f32");
    const args = { python: spec.command, env: spec.env, modelDir: TEST_MODELS.tiny, bits: 4, dtype: "f32" as const, cacheRoot };
    const record = await ensureMlxQuantized(args);
    expect(record.dir).toBe(mlxQuantDir(cacheRoot, TEST_MODELS.tiny, 4, "f32"));
    expect(record.dir).toMatch(/qwen3-tiny-f32-[0-9a-f]{8}-[0-9a-f]{16}-affine-q4-g64-f32$/);
    expect(record).toMatchObject({ method: "mlx-affine", bits: 4, group_size: 64, converter: "mlx_lm.convert" });
    expect(record.converter_version).toMatch(/^mlx-lm \d+\.\d+\.\d+$/);
    expect(record.command.slice(1)).toEqual(["-m", "mlx_lm", "convert", "--hf-path", TEST_MODELS.tiny, "-q", "--q-bits", "4", "--q-group-size", "64", "--dtype", "float32", "--mlx-path", record.dir]);
    const config = JSON.parse(readFileSync(join(record.dir, "config.json"), "utf8"));
    expect(config.quantization).toMatchObject({ bits: 4, group_size: 64 });
    for (const [file, sha] of Object.entries(record.weights_sha256)) expect(createHash("sha256").update(readFileSync(join(record.dir, file))).digest("hex")).toBe(sha);
    // 4-bit weights with a scale and bias per 64: far fewer bytes than f32, more than 4/32 of them.
    const f32Bytes = checkModelDir(TEST_MODELS.tiny).info("f32").weight_bytes;
    expect(record.weight_bytes).toBeLessThan(f32Bytes / 4);
    expect(record.weight_bytes).toBeGreaterThan(f32Bytes / 8);
    const made = statSync(join(record.dir, "qwen3-bench-quant.json")).mtimeMs;
    expect(await ensureMlxQuantized(args)).toEqual(record);
    expect(statSync(join(record.dir, "qwen3-bench-quant.json")).mtimeMs).toBe(made);
  }, 300_000);

  test("the unquantized copy mlx_lm.benchmark loads (fidelity) is made once, in the cache", async () => {
    const cacheRoot = mkdtempSync(join(tmpdir(), "qwen3-bench-convert-"));
    const spec = await launchVariant(resolveVariant("mlx-lm"), TEST_MODELS.tiny, "f32");
    const args = { python: spec.command, env: spec.env, modelDir: TEST_MODELS.tiny, dtype: "f16" as const, cacheRoot };
    const dir = await ensureMlxConverted(args);
    expect(dir).toBe(mlxConvertedDir(cacheRoot, TEST_MODELS.tiny, "f16"));
    expect(dir).toMatch(/mlx-convert\/qwen3-tiny-f32-[0-9a-f]{8}-[0-9a-f]{16}-f16$/);
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    expect(config.quantization).toBeUndefined();
    expect(readdirSync(cacheRoot + "/mlx-convert")).toEqual([dir.split("/").pop()]); // no partial folder left
    const made = statSync(join(dir, "config.json")).mtimeMs;
    expect(await ensureMlxConverted(args)).toBe(dir);
    expect(statSync(join(dir, "config.json")).mtimeMs).toBe(made);
  }, 300_000);

  test("mlx-lm[quant=4bit] against mlx-lm: the results carry the copy and its bytes; teacher-forced top-1 passes the 4-bit threshold, a wrong reference fails it", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-quant-run-"));
    const prompts = loadPromptsFile(PROMPTS_FILE).prompts.prompts;
    const tokenizer = new PromptTokenizer(TEST_MODELS.tiny);
    const plan = tinyPlan(runDir, { profile: { max_new_tokens: 32, warmup_iterations: 0, timed_iterations: 1, cooldown_secs: 0 }, prompts: prompts.map((p) => tokenizer.tokenize(p)) });
    const tokens = new Map<string, number[][]>();
    const sessions = new Map(["mlx-lm", "mlx-lm[quant=4bit]"].map((label) => [label, new FrameworkSession(plan, label)]));
    try {
      for (const [label, session] of sessions) {
        const out: number[][] = [];
        for (const prompt of plan.prompts) out.push((await session.measure(prompt, 0)).token_ids);
        tokens.set(label, out);
      }
      const quant = sessions.get("mlx-lm[quant=4bit]")!;
      for (const [i, prompt] of plan.prompts.entries()) {
        const reference = { framework: "mlx-lm", isConfiguredReference: true, tokens: tokens.get("mlx-lm")![i] };
        const record = await quant.agreement(prompt, tokens.get("mlx-lm[quant=4bit]")![i], reference, true);
        expect(record.top1_agreement, prompt.id).toBeGreaterThanOrEqual(quantizedMinTop1(4, "f32"));
        expect(record.passed, prompt.id).toBe(true);
      }
      // A reference the copy never saw (every token moved by one id) must fail the same check.
      const wrong = { framework: "mlx-lm", isConfiguredReference: true, tokens: tokens.get("mlx-lm")![0].map((t) => t + 1) };
      expect((await quant.agreement(plan.prompts[0], tokens.get("mlx-lm[quant=4bit]")![0], wrong, true)).passed).toBe(false);
    } finally {
      for (const s of sessions.values()) await s.close();
    }
    const plain = ResultsFile.parse(JSON.parse(readFileSync(join(runDir, "mlx-lm_results.json"), "utf8")));
    const q4 = ResultsFile.parse(JSON.parse(readFileSync(join(runDir, "mlx-lm.quant=4bit_results.json"), "utf8")));
    expect(plain.quantization ?? null).toBeNull();
    expect(q4.quantization).toMatchObject({ method: "mlx-affine", bits: 4, group_size: 64 });
    expect(q4.model.weight_bytes).toBe(q4.quantization!.weight_bytes);
    expect(q4.model.weight_bytes).toBeLessThan(plain.model.weight_bytes / 4);
    expect(q4.ready.notes.join("\n")).toMatch(/weights quantized: mlx affine 4-bit, group size 64, made by mlx_lm\.convert \(mlx-lm \d+\.\d+\.\d+\); model\.safetensors sha256 [0-9a-f]{12}/);
    expect(precisionGroup(q4)).toBe("4-bit mlx-affine, group 64, f32 elsewhere");
    expect(q4.agreement.map((a) => a.passed)).toEqual([true, true, true, false]);
  }, 600_000);
});

const burnCpu = await probeVariant(resolveVariant("burn-cpu"));

describe.skipIf(!burnCpu.available)("burn-cpu (tiny f32 model)", () => {
  test("burn-cpu[quant=q8] and [quant=q4] against burn-cpu: teacher-forced top-1 passes each width's threshold, a wrong reference fails it", async () => {
    const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-burn-quant-"));
    const prompts = loadPromptsFile(PROMPTS_FILE).prompts.prompts;
    const tokenizer = new PromptTokenizer(TEST_MODELS.tiny);
    const plan = tinyPlan(runDir, { profile: { max_new_tokens: 16, warmup_iterations: 0, timed_iterations: 1, cooldown_secs: 0 }, prompts: prompts.map((p) => tokenizer.tokenize(p)) });
    const labels = ["burn-cpu", "burn-cpu[quant=q8]", "burn-cpu[quant=q4]"];
    const sessions = new Map(labels.map((label) => [label, new FrameworkSession(plan, label)]));
    const tokens = new Map<string, number[][]>();
    try {
      for (const [label, session] of sessions) {
        const out: number[][] = [];
        for (const prompt of plan.prompts) out.push((await session.measure(prompt, 0)).token_ids);
        tokens.set(label, out);
      }
      for (const [label, bits] of [["burn-cpu[quant=q8]", 8], ["burn-cpu[quant=q4]", 4]] as const) {
        const session = sessions.get(label)!;
        for (const [i, prompt] of plan.prompts.entries()) {
          const reference = { framework: "burn-cpu", isConfiguredReference: true, tokens: tokens.get("burn-cpu")![i] };
          const record = await session.agreement(prompt, tokens.get(label)![i], reference, true);
          expect(record.top1_agreement, `${label} ${prompt.id}`).toBeGreaterThanOrEqual(quantizedMinTop1(bits, "f32"));
          expect(record.passed, `${label} ${prompt.id}`).toBe(true);
        }
        const wrong = { framework: "burn-cpu", isConfiguredReference: true, tokens: tokens.get("burn-cpu")![0].map((t) => t + 1) };
        expect((await session.agreement(plan.prompts[0], tokens.get(label)![0], wrong, true)).passed, label).toBe(false);
      }
    } finally {
      for (const s of sessions.values()) await s.close();
    }
    const q4 = ResultsFile.parse(JSON.parse(readFileSync(join(runDir, "burn-cpu.quant=q4_results.json"), "utf8")));
    expect(q4.ready.notes.join("\n")).toContain("quant=q4: linear weights in Burn's Q4S");
    expect(q4.quantization ?? null).toBeNull();
  }, 600_000);
});
