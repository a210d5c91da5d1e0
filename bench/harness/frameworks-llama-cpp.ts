import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, delimiter, dirname, join } from "node:path";
import type { Availability, Framework } from "./framework.ts";
import { LLAMA_CPP_FLAGS } from "./runner-flags.ts";
import type { Dtype } from "./schema/model-config.ts";
import type { QuantizationRecord } from "./schema/results.ts";
import { LlamaCppBackend } from "./schema/llama-cpp-backend.ts";
import { readLlamaCppSettings, type LlamaCppSettings } from "./settings.ts";
import { converterPython, ensureConverterPython, ensureGguf, GGUF_TYPES, ggufPath, isQuantizedType, type GgufProvenance, type GgufType } from "./setup/gguf-convert.ts";
import {
  buildLlamaCpp,
  BUILD_FEATURES_FILE,
  ensureLlamaCppSource,
  LLAMA_BENCH_PROGRAM,
  llamaCppBackend,
  describePrebuiltBins,
  llamaCppBinDir,
  prebuiltBinDir,
  lastSetupError,
  llamaCppTree,
  missingBuildTools,
  recordingSetupError,
  RUNNER_PROGRAM,
} from "./setup/llama-cpp-build.ts";

/** The GGUF type a label's flags ask for (`llama-cpp[type=q8_0]`), else the run's dtype. */
export function ggufTypeOf(flags: Array<[string, string]>, dtype: Dtype): GgufType {
  const given = flags.find(([name]) => name === "type")?.[1] ?? dtype;
  if (!(GGUF_TYPES as readonly string[]).includes(given)) throw new Error(`llama-cpp: type ${given} is not a GGUF type this runner makes (${GGUF_TYPES.join(", ")})`);
  return given as GgufType;
}

/** The build a label's flags ask for (`llama-cpp[backend=vulkan]`), else the default build's backend (llamaCppBackend). */
export async function backendOf(flags: Array<[string, string]>, settings: LlamaCppSettings): Promise<LlamaCppBackend> {
  const given = flags.find(([name]) => name === "backend")?.[1];
  return given === undefined ? llamaCppBackend(settings) : LlamaCppBackend.parse(given);
}

/** The build folder of a label's backend (llamaCppBinDir). */
const binDirOf = async (flags: Array<[string, string]>, settings: LlamaCppSettings): Promise<string> => llamaCppBinDir(settings, await backendOf(flags, settings));

/**
 * Where the llama.cpp programs and GGUFs of this machine are, for the fidelity tools (llama-bench
 * beside the runner on the same file): a label's build folder (runner, llama-bench, llama-quantize)
 * and, for a (model, type), the GGUF path the runner loads (made by `launch` or setup; it may not
 * exist yet). The GGUF is the same file for every backend.
 */
export async function llamaCppArtifacts(modelDir: string, type: GgufType, dtype: Dtype, settings: LlamaCppSettings = readLlamaCppSettings(), flags: Array<[string, string]> = []) {
  const binDir = await binDirOf(flags, settings);
  return { binDir, runner: join(binDir, RUNNER_PROGRAM), llamaBench: join(binDir, LLAMA_BENCH_PROGRAM), gguf: ggufPath(modelDir, type, dtype) };
}

/** Why a backend's build is not there: a BENCH_LLAMA_CPP_BIN folder without the runner, a missing tool, its failed build, or not built yet. */
async function missingBuildReason(settings: LlamaCppSettings, backend: LlamaCppBackend, runner: string): Promise<string> {
  if (prebuiltBinDir(settings, backend)) return `no ${backend} build: ${runner} missing (BENCH_LLAMA_CPP_BIN=${settings.prebuiltBins.join(delimiter)})`;
  const prebuilt = settings.prebuiltBins.length ? `; BENCH_LLAMA_CPP_BIN holds no ${backend} build (${describePrebuiltBins(settings)})` : "";
  const missing = await missingBuildTools(backend);
  if (missing) return `no ${backend} build (${runner} missing${prebuilt}): ${missing}`;
  const failed = lastSetupError(backend);
  if (failed) return `the ${backend} build failed (${runner} missing${prebuilt}): ${failed}`;
  return `no ${backend} build (${runner} missing${prebuilt}): run \`npx qwen3-bench setup\` with this label in BENCH_FRAMEWORKS (cmake, a C++ compiler${backend === "vulkan" ? ", glslc and the Vulkan headers" : ""}; fetches llama-cpp-python's sdist from PyPI), or add build.sh's DIR/bin of a --backend ${backend} build to BENCH_LLAMA_CPP_BIN`;
}

/** Bits per weight of the quantized GGUF types (Q4_K_M: 4-bit blocks, a few tensors at 6). */
const QUANTIZED_BITS: Partial<Record<GgufType, number>> = { q8_0: 8, q4_k_m: 4 };

/** The results file's record of a quantized GGUF (schema/results.ts, QuantizationRecord), from its provenance file. */
function quantizationRecord(gguf: string, type: GgufType, dtype: Dtype): QuantizationRecord {
  const provenance = JSON.parse(readFileSync(`${gguf}.json`, "utf8")) as GgufProvenance;
  return {
    method: type,
    bits: QUANTIZED_BITS[type]!,
    // Q8_0: one scale per 32 weights; K-quants: super-blocks of 256 with their own sub-block scales.
    group_size: type === "q8_0" ? 32 : null,
    converter: "llama-quantize",
    converter_version: provenance.made_by,
    // ensureGguf's call: the GGUF of the run's dtype beside it, quantized into this file.
    command: ["llama-quantize", join(dirname(gguf), `${dtype}.gguf`), gguf, type.toUpperCase()],
    dir: dirname(gguf),
    weights_sha256: { [basename(gguf)]: provenance.sha256 },
    // The file's size: its tensors and its metadata (the vocabulary: about 6 MB of a 0.6B model's 600+ MB).
    weight_bytes: statSync(gguf).size,
    source_fingerprint: provenance.model_fingerprint,
  };
}

/**
 * llama.cpp (runners/llama-cpp): a C++ runner on libllama built with llama-bench and llama-quantize
 * from the llama-cpp-python sdist's tree; the GGUF is made from the model folder at launch (cached).
 */
export function llamaCppRunner(settings?: LlamaCppSettings): Framework {
  // Read when first needed, not at import: a bad knob then fails this framework's calls only.
  let cached: LlamaCppSettings | null = settings ?? null;
  const knobs = (): LlamaCppSettings => (cached ??= readLlamaCppSettings());
  return {
    name: "llama-cpp",
    readyFramework: "llama-cpp",
    flags: LLAMA_CPP_FLAGS,
    description:
      "llama.cpp (C++ runner on libllama, built with llama-bench from the llama-cpp-python sdist's tree): a GGUF made from the model folder by llama.cpp's converter/quantizer (labels [type=f32|f16|bf16|q8_0|q4_k_m]), argmax in the graph; one build per backend (CUDA, Vulkan, Metal or CPU; labels [backend=...])",
    async probe(flags = []): Promise<Availability> {
      const settings = knobs();
      const backend = await backendOf(flags, settings);
      const binDir = llamaCppBinDir(settings, backend);
      const runner = join(binDir, RUNNER_PROGRAM);
      if (!existsSync(runner)) return { available: false, reason: await missingBuildReason(settings, backend, runner) };
      const tree = llamaCppTree(settings);
      if (!existsSync(join(tree, "convert_hf_to_gguf.py"))) return { available: false, reason: `llama.cpp's converter missing: ${join(tree, "convert_hf_to_gguf.py")} (run \`npx qwen3-bench setup\`)` };
      const python = await converterPython(settings, tree);
      if (!python) {
        const failed = lastSetupError("converter");
        return { available: false, reason: failed ? `setup failed: ${failed}` : "no Python for llama.cpp's converter (torch, transformers): run `npx qwen3-bench setup` (a venv from PyPI) or set BENCH_LLAMA_CPP_PYTHON" };
      }
      const features = existsSync(join(binDir, BUILD_FEATURES_FILE)) ? readFileSync(join(binDir, BUILD_FEATURES_FILE), "utf8").trim().split("\n").join(",") : "prebuilt";
      return { available: true, reason: `${runner} (${features}); converter: ${python}` };
    },
    // One build per backend the run's labels name (a label without `backend=`: the default build),
    // one after the other (each takes every core); a BENCH_LLAMA_CPP_BIN folder of a backend stands
    // for its build, a backend whose tools are missing is left to the probe's reason, and with none
    // buildable nothing is set up. Every build is tried; the first failure is thrown after the converter's venv.
    async setup(labelFlags = [[]]) {
      const settings = knobs();
      const named = [...new Set(await Promise.all(labelFlags.map((flags) => backendOf(flags, settings))))];
      const buildable = (await Promise.all(named.map(async (b) => (prebuiltBinDir(settings, b) || !(await missingBuildTools(b)) ? [b] : [])))).flat();
      if (!buildable.length) return;
      const failures: Error[] = [];
      for (const backend of buildable) {
        await recordingSetupError(backend, () => buildLlamaCpp(settings, backend)).catch((e: Error) => failures.push(new Error(`${backend} build: ${e.message}`, { cause: e })));
      }
      if (failures.length < buildable.length) await recordingSetupError("converter", async () => ensureConverterPython(settings, await ensureLlamaCppSource(settings)));
      if (failures.length) throw failures[0];
    },
    async launch(modelDir, dtype, flags = []) {
      const settings = knobs();
      const type = ggufTypeOf(flags, dtype);
      const tree = llamaCppTree(settings);
      const python = await converterPython(settings, tree);
      if (!python) throw new Error("llama-cpp: no Python for llama.cpp's converter (run `npx qwen3-bench setup`)");
      const binDir = await binDirOf(flags, settings);
      // An unquantized type is loaded as itself; a quantized one is made from the run's dtype.
      const gguf = await ensureGguf(modelDir, type, isQuantizedType(type) ? dtype : (type as Dtype), { tree, python, binDir });
      const spec = { framework: "llama-cpp", command: join(binDir, RUNNER_PROGRAM), args: ["--model", modelDir, "--dtype", isQuantizedType(type) ? dtype : type, "--gguf", gguf] };
      return isQuantizedType(type) && existsSync(`${gguf}.json`) ? { ...spec, quantization: quantizationRecord(gguf, type, dtype) } : spec;
    },
  };
}
