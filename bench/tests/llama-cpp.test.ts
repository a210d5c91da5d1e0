// The llama.cpp runner beyond the protocol suite (runners/llama-cpp/README.md): the quantized-agreement
// rule and GGUF naming as pure functions; one build per backend (the `backend` label flag, the build
// folder a backend resolves to, the skip reason when its build is missing); then, where llama-cpp is available, the real runner on the
// tiny test models: the GGUF's provenance, backend and host argmax giving the same tokens, f16 within
// the harness's rule of the f32 goldens, q8_0 and q4_k_m within quantizedMinTop1 of their bits of their
// f16 row (measured on the tiny model, 32 tokens: q8_0 31/32, 32/32, 32/32; q4_k_m 23/32, 28/32, 30/32
// for short, medium, long; on the synthetic 0.6B both 32/32 on all three).
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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
import { derivedCopyName } from "../harness/model/derived-cache.ts";
import { markTemporaryCopy } from "../harness/model/temporary-copy.ts";
import { binDirBackend, buildDir, LLAMA_CPP_COMMIT, llamaCppBackend, llamaCppBinDir, llamaCppCacheDir, oldVulkanHeaders, RUNNER_PROGRAM } from "../harness/setup/llama-cpp-build.ts";
import { readLlamaCppSettings, type LlamaCppSettings } from "../harness/settings.ts";
import { hasSharedBase } from "../harness/framework-label.ts";
import { probeVariant, resolveVariant, resolveVariants } from "../harness/variants.ts";
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
    expect(cached).toBe(join(llamaCppCacheDir(), "gguf", derivedCopyName(TEST_MODELS.tiny), "q8_0-from-f16.gguf"));
    expect(basename(ggufPath(TEST_MODELS.tiny, "f32", "f16"))).toBe("f32.gguf");
    // A folder under the OS's temporary folder is a model like any other (a checkout may live in /tmp)...
    const copy = mkdtempSync(join(tmpdir(), "qwen3-bench-gguf-path-"));
    cpSync(join(TEST_MODELS.tiny, "config.json"), join(copy, "config.json"));
    expect(ggufPath(copy, "f16", "f16")).toBe(join(llamaCppCacheDir(), "gguf", derivedCopyName(copy), "f16.gguf"));
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

describe("one build per backend: llama-cpp[backend=cuda|vulkan|...] runs that build's programs", () => {
  const root = mkdtempSync(join(tmpdir(), "qwen3-bench-llama-bins-"));
  /** A folder shaped like build.sh's DIR/bin: its build-features (backend first), and the runner program when `withRunner`. */
  const binFolder = (name: string, features: string[], withRunner: boolean): string => {
    const dir = join(root, name, "bin");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "build-features"), `${features.join("\n")}\n`);
    if (withRunner) writeFileSync(join(dir, RUNNER_PROGRAM), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    return dir;
  };
  const cudaBin = binFolder("cuda", ["cuda", "sm_90", "native"], true);
  const vulkanBin = binFolder("vulkan", ["vulkan", "-DGGML_NATIVE=OFF", "-DGGML_OPENMP=OFF"], true);
  const cpuNoRunner = binFolder("cpu", ["cpu", "native"], false);
  const plain: LlamaCppSettings = { prebuiltBins: [], source: null, converterPython: null, backend: null, cudaArch: null };

  test("the label: backend= beside type=, in declaration order; a backend it does not build is one error naming the flag's values", () => {
    const vulkan = resolveVariant("llama-cpp[backend=vulkan,type=f16]", {});
    expect(vulkan.label).toBe("llama-cpp[type=f16,backend=vulkan]");
    expect(vulkan.flags).toEqual([["type", "f16"], ["backend", "vulkan"]]);
    expect(() => resolveVariant("llama-cpp[backend=rocm]", {})).toThrow(/flag backend takes cpu or cuda or vulkan or metal, got "rocm"/);
    // CUDA and Vulkan as two labels of one run: two results files, and an A/B pair (interleaved).
    const labels = resolveVariants(["llama-cpp[type=f16]", "llama-cpp[type=f16,backend=vulkan]"], {}).map((v) => v.label);
    expect(labels).toEqual(["llama-cpp[type=f16]", "llama-cpp[type=f16,backend=vulkan]"]);
    expect(hasSharedBase(labels)).toBe(true);
    // A GPU backend starts the runner with --device gpu (no silent CPU fallback); cpu with --device cpu.
    expect(LLAMA_CPP_FLAGS.backend.args("vulkan")).toEqual(["--device", "gpu"]);
    expect(LLAMA_CPP_FLAGS.backend.args("cpu")).toEqual(["--device", "cpu"]);
    // A quantized label is checked against the unquantized row of its own backend.
    expect(unquantizedLabels("llama-cpp[type=q8_0,backend=vulkan]", LLAMA_CPP_FLAGS, "f16")).toEqual(["llama-cpp[type=f16,backend=vulkan]", "llama-cpp[backend=vulkan]"]);
  });

  test("BENCH_LLAMA_CPP_BIN: folders separated by ':'; BENCH_LLAMA_CPP_BACKEND takes vulkan; a backend it does not know is an error naming the knob", () => {
    expect(readLlamaCppSettings({ BENCH_LLAMA_CPP_BIN: `${cudaBin}:${vulkanBin}` }).prebuiltBins).toEqual([cudaBin, vulkanBin]);
    expect(readLlamaCppSettings({}).prebuiltBins).toEqual([]);
    expect(readLlamaCppSettings({ BENCH_LLAMA_CPP_BACKEND: "vulkan" }).backend).toBe("vulkan");
    expect(() => readLlamaCppSettings({ BENCH_LLAMA_CPP_BACKEND: "rocm" })).toThrow(/BENCH_LLAMA_CPP_BACKEND/);
  });

  test("build folders: the BENCH_LLAMA_CPP_BIN folder whose build-features names the backend, else this machine's <cache>/build-<backend>/bin", async () => {
    expect(llamaCppBinDir(plain, "vulkan")).toBe(join(buildDir("vulkan"), "bin"));
    expect(llamaCppBinDir(plain, "cuda")).toBe(join(buildDir("cuda"), "bin"));
    const prebuilt = { ...plain, prebuiltBins: [cudaBin, vulkanBin] };
    expect(binDirBackend(vulkanBin)).toBe("vulkan");
    expect(binDirBackend(root)).toBeNull();
    expect(llamaCppBinDir(prebuilt, "vulkan")).toBe(vulkanBin);
    expect(llamaCppBinDir(prebuilt, "cuda")).toBe(cudaBin);
    // A backend no folder holds is built here as without the knob (a CUDA build beside a prebuilt Vulkan one).
    expect(llamaCppBinDir(prebuilt, "metal")).toBe(join(buildDir("metal"), "bin"));
    expect(llamaCppBinDir({ ...plain, prebuiltBins: [vulkanBin] }, "cuda")).toBe(join(buildDir("cuda"), "bin"));
    // The default build (a label without backend=): the knob, else the machine's, never Vulkan by itself.
    expect(await llamaCppBackend({ ...plain, prebuiltBins: [vulkanBin] })).not.toBe("vulkan");
    expect(await llamaCppBackend({ ...prebuilt, backend: "vulkan" })).toBe("vulkan");
    expect(await llamaCppBackend({ ...prebuilt, backend: "cpu" })).toBe("cpu");
    // The fidelity tools' programs follow the label: llama-bench of the Vulkan build beside its runner.
    const artifacts = await llamaCppArtifacts(TEST_MODELS.tiny, "f16", "f16", prebuilt, [["type", "f16"], ["backend", "vulkan"]]);
    expect([artifacts.binDir, artifacts.runner, artifacts.llamaBench]).toEqual([vulkanBin, join(vulkanBin, RUNNER_PROGRAM), join(vulkanBin, "llama-bench")]);
  });

  test("Vulkan headers without VK_EXT_layer_settings (Debian 12's 1.3.239) are a reason not to start a build that would fail", () => {
    const header = (text: string) => {
      const file = join(root, `vulkan_core-${text.length}.h`);
      writeFileSync(file, text);
      return file;
    };
    const old = header("#define VK_HEADER_VERSION 239\n");
    expect(oldVulkanHeaders(old)).toBe(`the Vulkan headers ${old} (VK_HEADER_VERSION 239) lack VK_EXT_layer_settings, which this llama.cpp's Vulkan backend needs: build by hand with runners/llama-cpp/vulkan-toolchain.sh and build.sh (runners/llama-cpp/README.md, "Vulkan"), then add its DIR/bin to BENCH_LLAMA_CPP_BIN`);
    expect(oldVulkanHeaders(header("#define VK_HEADER_VERSION 309\n#define VK_EXT_layer_settings 1\n"))).toBeNull();
    expect(oldVulkanHeaders(join(root, "absent.h"))).toBeNull();
  });

  test("a missing backend build is the skip reason (probe, as doctor and the skip line show it)", async () => {
    const prebuilt = llamaCppRunner({ ...plain, prebuiltBins: [cudaBin, cpuNoRunner] });
    // probeVariant: the label's flags reach the probe (a failed setup recorded on this machine may prefix the reason).
    const probe = (label: string) => probeVariant({ ...resolveVariant(label, {}), framework: prebuilt });
    const cpu = await probe("llama-cpp[backend=cpu]");
    expect(cpu.available).toBe(false);
    expect(cpu.reason).toContain(`no cpu build: ${join(cpuNoRunner, RUNNER_PROGRAM)} missing (BENCH_LLAMA_CPP_BIN=${cudaBin}:${cpuNoRunner})`);
    // Built from source: a backend never built here names the folder it looked in and what the knob holds (macOS may hold a Metal build).
    if (!existsSync(join(buildDir("metal"), "bin", RUNNER_PROGRAM))) {
      const metal = await probe("llama-cpp[type=f16,backend=metal]");
      expect(metal.available).toBe(false);
      expect(metal.reason).toMatch(/(no metal build|the metal build failed) \(/);
      expect(metal.reason).toContain(`(${join(buildDir("metal"), "bin", RUNNER_PROGRAM)} missing; BENCH_LLAMA_CPP_BIN holds no metal build (${cudaBin} (cuda), ${cpuNoRunner} (cpu)))`);
      expect((await llamaCppRunner(plain).probe([["backend", "metal"]])).reason).toContain(`(${join(buildDir("metal"), "bin", RUNNER_PROGRAM)} missing)`);
    }
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

  test("labels started at once that need the same GGUF share one conversion (llama-cpp[type=f16] beside [type=f16,backend=vulkan])", async () => {
    const copy = mkdtempSync(join(tmpdir(), "qwen3-bench-gguf-together-"));
    cpSync(TEST_MODELS.tiny, copy, { recursive: true });
    markTemporaryCopy(copy);
    const specs = await Promise.all([framework.launch(copy, "f16", []), framework.launch(copy, "f16", []), framework.launch(copy, "f16", [["type", "q8_0"]])]);
    const ggufs = specs.map((spec) => spec.args[spec.args.indexOf("--gguf") + 1]);
    expect(ggufs[0]).toBe(ggufs[1]);
    for (const gguf of ggufs) {
      expect(existsSync(`${gguf}.error`), existsSync(`${gguf}.error`) ? readFileSync(`${gguf}.error`, "utf8") : gguf).toBe(false);
      const provenance = JSON.parse(readFileSync(`${gguf}.json`, "utf8"));
      expect(createHash("sha256").update(readFileSync(gguf)).digest("hex")).toBe(provenance.sha256);
    }
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

// Where a Vulkan build is there (BENCH_LLAMA_CPP_BIN holding one, or setup's build with glslc) and a
// Vulkan device: the label's runner is that build, on the GPU, and the tiny f32 model gives the goldens
// (the CPU build's tokens). Not in CI (no Vulkan build: about 17 min on two cores). On a machine without
// a GPU, Mesa's lavapipe is a Vulkan device when GGML_VK_VISIBLE_DEVICES=0 (ggml skips CPU devices otherwise).
const vulkanFlags: Array<[string, string]> = [["type", "f32"], ["backend", "vulkan"]];
const vulkanAvailability = await framework.probe(vulkanFlags);
describe.skipIf(!vulkanAvailability.available)(`llama-cpp[type=f32,backend=vulkan] on ${basename(TEST_MODELS.tiny)}`, () => {
  test("the Vulkan build runs on a Vulkan device and gives the f32 goldens", async () => {
    const runner = await start("f32", vulkanFlags);
    try {
      expect(runner.ready.backend).toBe("vulkan");
      expect(runner.ready.build?.features?.[0]).toBe("vulkan");
      // Which shader paths the device gives the run (matrix cores, int dot), as ggml-vulkan reports it.
      expect(runner.ready.notes.some((n) => /^ggml_vulkan: \d+ = .* \| matrix cores: \S+/.test(n))).toBe(true);
      for (const [id, g] of Object.entries(golden.prompts)) {
        const { reply } = await runner.generate({ prompt_token_ids: g.prompt_token_ids, max_new_tokens: golden.max_new_tokens, ignore_eos: true }, TIMEOUT_MS);
        expect(reply.token_ids, `${id}`).toEqual(g.token_ids);
      }
    } finally {
      await runner.shutdown();
    }
  }, TIMEOUT_MS);
});
