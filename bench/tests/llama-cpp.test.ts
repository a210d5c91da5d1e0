// The llama.cpp runner beyond the protocol suite (runners/llama-cpp/README.md): the quantized-agreement
// rule and GGUF naming as pure functions; then, where llama-cpp is available, the real runner on the
// tiny test models: the GGUF's provenance, backend and host argmax giving the same tokens, f16 within
// the harness's rule of the f32 goldens, q8_0 and q4_k_m within quantizedMinTop1 of their bits of their
// f16 row (measured on the tiny model, 32 tokens: q8_0 31/32, 32/32, 32/32; q4_k_m 23/32, 28/32, 30/32
// for short, medium, long; on the synthetic 0.6B both 32/32 on all three).
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { checkAgreement, QUANTIZED_MIN_TOP1, unquantizedLabels } from "../harness/agreement.ts";
import { ggufTypeOf, llamaCppArtifacts, llamaCppRunner } from "../harness/frameworks-llama-cpp.ts";
import { FIXTURES_DIR, PROMPTS_FILE } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { LLAMA_CPP_FLAGS } from "../harness/runner-flags.ts";
import { RunnerProcess } from "../harness/runner-process.ts";
import { ggufPath } from "../harness/setup/gguf-convert.ts";
import { modelFingerprint } from "../harness/model/fingerprint.ts";
import { markTemporaryCopy } from "../harness/model/temporary-copy.ts";
import { LLAMA_CPP_COMMIT, llamaCppCacheDir } from "../harness/setup/llama-cpp-build.ts";
import type { Dtype } from "../harness/schema/model-config.ts";

const TIMEOUT_MS = 300_000;

describe("quantized labels are checked against their own framework's unquantized row", () => {
  test("unquantizedLabels: the quantizing flag at the run's dtype, then without it; null when nothing quantizes", () => {
    expect(unquantizedLabels("llama-cpp[type=q8_0]", LLAMA_CPP_FLAGS, "f16")).toEqual(["llama-cpp[type=f16]", "llama-cpp"]);
    expect(unquantizedLabels("llama-cpp[type=q4_k_m]", LLAMA_CPP_FLAGS, "f32")).toEqual(["llama-cpp[type=f32]", "llama-cpp"]);
    expect(unquantizedLabels("llama-cpp[type=q4_k_m]@head", LLAMA_CPP_FLAGS, "bf16")).toEqual(["llama-cpp[type=bf16]@head", "llama-cpp@head"]);
    expect(unquantizedLabels("llama-cpp[type=f16]", LLAMA_CPP_FLAGS, "f16")).toBeNull();
    expect(unquantizedLabels("llama-cpp", LLAMA_CPP_FLAGS, "f16")).toBeNull();
    expect(unquantizedLabels("burn-cpu[attention=explicit]", undefined, "f16")).toBeNull();
  });

  test("checkAgreement(quantized): only the teacher-forced top-1 share counts, against QUANTIZED_MIN_TOP1", () => {
    const config = { f32_exact: true, min_top1_agreement: 0.99, min_first_divergence: 8, top_k: 5 };
    const referenceTokens = Array.from({ length: 20 }, (_, i) => i);
    // Greedy tokens that diverge at 1 (a quantized model's trajectory drifts): not held against it.
    const tokens = [0, ...referenceTokens.slice(1).map((t) => t + 100)];
    const argmax = (mismatches: number) => referenceTokens.map((t, i) => (i < mismatches ? t + 1 : t));
    const share = (mismatches: number) => 1 - mismatches / referenceTokens.length;
    // The most mismatches the threshold allows (1e-9: 0.1 × 20 is 1.9999999999999996 in floating point).
    const enough = Math.floor((1 - QUANTIZED_MIN_TOP1) * referenceTokens.length + 1e-9);
    const pass = checkAgreement({ promptId: "p", reference: "llama-cpp[type=f16]", referenceTokens, tokens, teacherForcedArgmax: argmax(enough), dtype: "f32", config, quantized: true });
    expect(pass.top1_agreement).toBeCloseTo(share(enough), 12);
    expect(pass.passed).toBe(true);
    const fail = checkAgreement({ promptId: "p", reference: "llama-cpp[type=f16]", referenceTokens, tokens, teacherForcedArgmax: argmax(enough + 1), dtype: "f32", config, quantized: true });
    expect(fail.passed).toBe(false);
    // The same tokens as an f32 row against the reference: the exact rule fails them.
    expect(checkAgreement({ promptId: "p", reference: "torch", referenceTokens, tokens, teacherForcedArgmax: argmax(0), dtype: "f32", config }).passed).toBe(false);
    // Without a teacher-forced pass a quantized row cannot pass.
    expect(checkAgreement({ promptId: "p", reference: "x", referenceTokens, tokens: referenceTokens, teacherForcedArgmax: null, dtype: "f16", config, quantized: true }).passed).toBe(false);
  });
});

describe("GGUF files", () => {
  test("ggufTypeOf: the label's type, else the run's dtype; a type it does not make is an error", () => {
    expect(ggufTypeOf([["type", "q8_0"]], "f16")).toBe("q8_0");
    expect(ggufTypeOf([], "bf16")).toBe("bf16");
    expect(() => ggufTypeOf([["type", "q2_k"]], "f16")).toThrow(/q2_k/);
  });

  test("ggufPath: cached by model fingerprint and type; a quantized file names its source; a copy marked temporary keeps its own", () => {
    const cached = ggufPath(TEST_MODELS.tiny, "q8_0", "f16");
    expect(basename(cached)).toBe("q8_0-from-f16.gguf");
    expect(cached).toBe(join(llamaCppCacheDir(), "gguf", `${basename(TEST_MODELS.tiny)}-${modelFingerprint(TEST_MODELS.tiny)}`, "q8_0-from-f16.gguf"));
    expect(basename(ggufPath(TEST_MODELS.tiny, "f32", "f16"))).toBe("f32.gguf");
    // A folder under the OS's temporary folder is a model like any other (a checkout may live in /tmp)...
    const copy = mkdtempSync(join(tmpdir(), "qwen3-bench-gguf-path-"));
    cpSync(join(TEST_MODELS.tiny, "config.json"), join(copy, "config.json"));
    expect(ggufPath(copy, "f16", "f16")).toBe(join(llamaCppCacheDir(), "gguf", `${basename(copy)}-${modelFingerprint(copy)}`, "f16.gguf"));
    // ...until whoever made it marks it as a temporary copy.
    markTemporaryCopy(copy);
    expect(ggufPath(copy, "f16", "f16")).toBe(join(copy, ".gguf", "f16.gguf"));
  });

  test("modelFingerprint changes with config.json", () => {
    const copy = mkdtempSync(join(tmpdir(), "qwen3-bench-fingerprint-"));
    cpSync(join(TEST_MODELS.tiny, "config.json"), join(copy, "config.json"));
    const before = modelFingerprint(copy);
    const config = JSON.parse(readFileSync(join(copy, "config.json"), "utf8"));
    writeFileSync(join(copy, "config.json"), JSON.stringify({ ...config, intermediate_size: config.intermediate_size + 8 }));
    expect(modelFingerprint(copy)).not.toBe(before);
  });
});

interface Golden {
  max_new_tokens: number;
  prompts: Record<string, { prompt_token_ids: number[]; token_ids: number[] }>;
}
const golden = JSON.parse(readFileSync(join(FIXTURES_DIR, "goldens", `${basename(TEST_MODELS.tiny)}.json`), "utf8")) as Golden;
const agreementConfig = JSON.parse(readFileSync(PROMPTS_FILE, "utf8")).config.agreement;
const framework = llamaCppRunner();
const availability = await framework.probe();

/** Starts the runner for a label's flags on the tiny model. */
async function start(dtype: Dtype, flags: Array<[string, string]>, extraArgs: string[] = []): Promise<RunnerProcess> {
  const spec = await framework.launch(TEST_MODELS.tiny, dtype, flags);
  return RunnerProcess.start({ ...spec, args: [...spec.args, ...flags.flatMap(([n, v]) => LLAMA_CPP_FLAGS[n].args(v)), ...extraArgs] }, TIMEOUT_MS);
}

describe.skipIf(!availability.available)(`the llama.cpp runner on ${basename(TEST_MODELS.tiny)}`, () => {
  const runners: RunnerProcess[] = [];
  const started = async (dtype: Dtype, flags: Array<[string, string]>, extraArgs: string[] = []) => {
    const runner = await start(dtype, flags, extraArgs);
    runners.push(runner);
    return runner;
  };
  afterAll(() => Promise.all(runners.map((r) => r.shutdown())));

  test("ready: the tree's commit, build flags, the GGUF's sha256 (equal to the file's) and the argmax path in the notes", async () => {
    const runner = await started("f32", []);
    expect(runner.ready.framework_version).toContain(LLAMA_CPP_COMMIT);
    expect(runner.ready.build?.features?.length).toBeGreaterThan(0);
    const { gguf } = await llamaCppArtifacts(TEST_MODELS.tiny, "f32", "f32");
    const sha = createHash("sha256").update(readFileSync(gguf)).digest("hex");
    expect(runner.ready.notes).toContain(`GGUF f32 sha256 ${sha}`);
    expect(runner.ready.notes.some((n) => /convert_hf_to_gguf\.py --outtype f32/.test(n))).toBe(true);
    expect(runner.ready.notes.some((n) => /^argmax in llama\.cpp's graph on cpu/.test(n))).toBe(true);
  }, TIMEOUT_MS);

  test("the fidelity tools' llama-bench sits beside the runner", async () => {
    const { llamaBench, runner } = await llamaCppArtifacts(TEST_MODELS.tiny, "f16", "f16");
    expect(existsSync(runner)).toBe(true);
    expect(existsSync(llamaBench)).toBe(true);
  });

  test("argmax in the graph (backend sampler) and on the host give the same tokens", async () => {
    const device = await started("f32", []);
    const host = await started("f32", [], ["--sampling", "host"]);
    expect(host.ready.notes.some((n) => n.startsWith("argmax on the host"))).toBe(true);
    for (const g of Object.values(golden.prompts)) {
      const request = { prompt_token_ids: g.prompt_token_ids, max_new_tokens: golden.max_new_tokens, ignore_eos: true as const };
      expect((await host.generate(request, TIMEOUT_MS)).reply.token_ids).toEqual((await device.generate(request, TIMEOUT_MS)).reply.token_ids);
    }
  }, TIMEOUT_MS);

  describe("f16 against the f32 goldens (the harness's f16 rule); q8_0 and q4_k_m against the f16 row (QUANTIZED_MIN_TOP1)", () => {
    const f16Tokens = new Map<string, number[]>();
    beforeAll(async () => {
      const f16 = await started("f16", [["type", "f16"]]);
      expect(f16.ready.dtype).toBe("f16");
      for (const [id, g] of Object.entries(golden.prompts)) {
        const { reply } = await f16.generate({ prompt_token_ids: g.prompt_token_ids, max_new_tokens: golden.max_new_tokens, ignore_eos: true }, TIMEOUT_MS);
        const score = await f16.score({ prompt_token_ids: g.prompt_token_ids, continuation_token_ids: g.token_ids, top_k: 1 }, TIMEOUT_MS);
        const record = checkAgreement({ promptId: id, reference: "goldens", referenceTokens: g.token_ids, tokens: reply.token_ids, teacherForcedArgmax: score.reply.argmax_ids, dtype: "f16", config: agreementConfig });
        expect(record.passed, `f16 on ${id}: first divergence ${record.first_divergence}, top-1 ${record.top1_agreement}`).toBe(true);
        f16Tokens.set(id, reply.token_ids);
      }
    }, TIMEOUT_MS);

    // Bits per weight for the rule (agreement.ts, quantizedMinTop1): Q4_K_M's blocks are 4-bit (a few tensors 6-bit).
    test.each([["q8_0", 8], ["q4_k_m", 4]] as const)("%s", async (type, bits) => {
      const runner = await started("f16", [["type", type]]);
      expect(runner.ready.notes.some((n) => n.includes(`llama-quantize ${type.toUpperCase()} of f16.gguf`))).toBe(true);
      for (const [id, g] of Object.entries(golden.prompts)) {
        const reference = f16Tokens.get(id)!;
        const { reply } = await runner.generate({ prompt_token_ids: g.prompt_token_ids, max_new_tokens: golden.max_new_tokens, ignore_eos: true }, TIMEOUT_MS);
        const score = await runner.score({ prompt_token_ids: g.prompt_token_ids, continuation_token_ids: reference, top_k: 1 }, TIMEOUT_MS);
        const record = checkAgreement({ promptId: id, reference: "llama-cpp[type=f16]", referenceTokens: reference, tokens: reply.token_ids, teacherForcedArgmax: score.reply.argmax_ids, dtype: "f16", config: agreementConfig, quantized: true, quantizedBits: bits });
        expect(record.passed, `${type} on ${id}: teacher-forced top-1 ${record.top1_agreement}`).toBe(true);
      }
    }, TIMEOUT_MS);
  });
});
