import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import type { Dtype } from "../schema/model-config.ts";
import type { LlamaCppSettings } from "../settings.ts";
import { runLogged, tryOutput } from "../host/command.ts";
import { LLAMA_QUANTIZE_PROGRAM, llamaCppCacheDir, llamaCppTree, SOURCE_VERSION_FILE } from "./llama-cpp-build.ts";
import { uvCommand } from "./python-env.ts";
import { modelFingerprint } from "../model/fingerprint.ts";
import { isTemporaryCopy } from "../model/temporary-copy.ts";
import { derivedCopyName, pruneStaleCopies } from "../model/derived-cache.ts";
import { sha256OfFile } from "../model/hub-digest.ts";
import { replaceAtomicallyAsync } from "../atomic-file.ts";

/**
 * GGUF files made from the benchmark's own model folder by llama.cpp's own tools, never downloaded:
 * `convert_hf_to_gguf.py --outtype f32|f16|bf16` (with the tree's gguf-py), then `llama-quantize`
 * for the quantized types, from the GGUF of the run's dtype (f16 or f32, as llama.cpp's docs do).
 * Each file is cached by (model fingerprint, type) with a provenance file beside it (FILE.json:
 * sha256, the tools that made it), which the runner puts in its ready line's notes.
 */
export const GGUF_TYPES = ["f32", "f16", "bf16", "q8_0", "q4_k_m"] as const;
export type GgufType = (typeof GGUF_TYPES)[number];
/** Types llama-quantize makes, with its name for each. */
const QUANTIZE_NAMES: Partial<Record<GgufType, string>> = { q8_0: "Q8_0", q4_k_m: "Q4_K_M" };
export const isQuantizedType = (type: GgufType): boolean => type in QUANTIZE_NAMES;

/**
 * The converter's Python packages, as the tree's requirements/requirements-convert_hf_to_gguf.txt
 * pins them (its extra index, PyTorch's CPU wheels, left out: PyPI only); gguf comes from the
 * tree's own gguf-py (PYTHONPATH), never from PyPI.
 */
export const CONVERTER_REQUIREMENTS = ["torch==2.11.0", "numpy~=2.2.6", "sentencepiece>=0.1.98,<0.3.0", "transformers==4.57.6", "protobuf>=4.21.0,<5.0.0", "pyyaml", "tqdm", "requests"];
const CONVERTER_MODULES = ["torch", "transformers", "numpy", "gguf"];

const converterVenv = (): string => join(llamaCppCacheDir(), "converter-venv");
const venvPython = (): string => join(converterVenv(), "bin", "python");

/** The environment the converter runs in: the tree's gguf-py first on the import path. */
const converterEnv = (tree: string): Record<string, string> => ({ PYTHONPATH: join(tree, "gguf-py"), NO_LOCAL_GGUF: "" });

/** True when `python` finds the converter's modules (importlib's find_spec: no torch import, which takes 10-40 s here). */
async function findsConverterModules(python: string, tree: string): Promise<boolean> {
  const check = `import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in ${JSON.stringify(CONVERTER_MODULES)}) else 1)`;
  return (await tryOutput(python, ["-c", check], converterEnv(tree))) !== null;
}

/**
 * The Python that runs convert_hf_to_gguf.py: BENCH_LLAMA_CPP_PYTHON, else the converter venv,
 * else python3 when it already has torch and transformers (the offline GPU host's); null when
 * none imports them (setup then makes the venv).
 */
export async function converterPython(settings: LlamaCppSettings, tree: string): Promise<string | null> {
  const candidates = settings.converterPython ? [settings.converterPython] : [venvPython(), "python3"];
  for (const python of candidates) if ((python === "python3" || existsSync(python)) && (await findsConverterModules(python, tree))) return python;
  return null;
}

/** Makes the converter venv (uv, PyPI) unless a Python with the converter's modules is already here. */
export async function ensureConverterPython(settings: LlamaCppSettings, tree: string): Promise<string> {
  const found = await converterPython(settings, tree);
  if (found) return found;
  if (settings.converterPython) throw new Error(`BENCH_LLAMA_CPP_PYTHON=${settings.converterPython} cannot import ${CONVERTER_MODULES.join(", ")} (with PYTHONPATH=${join(tree, "gguf-py")})`);
  const [cmd, ...pre] = await uvCommand();
  await runLogged("setup llama-cpp (converter venv)", cmd, [...pre, "venv", "--quiet", "--allow-existing", "--python", "python3", converterVenv()]);
  // Bytecode compiled at install: the first conversion then does not compile transformers' modules.
  await runLogged("setup llama-cpp (converter venv)", cmd, [...pre, "pip", "install", "--quiet", "--compile-bytecode", "--python", venvPython(), ...CONVERTER_REQUIREMENTS]);
  // One real import (the wheels load: torch's CUDA libraries are among its dependencies on PyPI).
  await runLogged("setup llama-cpp (converter venv)", venvPython(), ["-c", `import ${CONVERTER_MODULES.join(", ")}`], { env: converterEnv(tree) });
  return venvPython();
}

/**
 * Where the GGUF of (model, type) lives: <cache>/gguf/<derivedCopyName>/ (model/derived-cache.ts).
 * A quantized file names the type it was made from (`q8_0-from-f16.gguf`). A model folder marked as a
 * temporary copy (model/temporary-copy.ts: the conformance test's broken copies) keeps its GGUFs
 * inside itself, so they go with it.
 */
export function ggufPath(modelDir: string, type: GgufType, dtype: Dtype): string {
  const dir = resolve(modelDir);
  const folder = isTemporaryCopy(dir) ? join(dir, ".gguf") : join(ggufCacheDir(), derivedCopyName(dir));
  return join(folder, isQuantizedType(type) ? `${type}-from-${dtype}.gguf` : `${type}.gguf`);
}

const ggufCacheDir = (): string => join(llamaCppCacheDir(), "gguf");

/** The provenance file beside a GGUF; the runner reads `sha256` and `made_by`. */
export interface GgufProvenance {
  sha256: string;
  made_by: string;
  type: GgufType;
  model_dir: string;
  model_fingerprint: string;
  made_at: string;
}

export interface GgufTools {
  tree: string;
  python: string;
  binDir: string;
}

/** What made the files (the provenance's made_by). */
function treeVersion(tree: string): string {
  const file = join(tree, SOURCE_VERSION_FILE);
  return existsSync(file) ? readFileSync(file, "utf8").trim() : tree;
}

/** The conversions under way in this process, by output file. */
const inFlight = new Map<string, Promise<string>>();

/**
 * Makes the GGUF of (model, type) unless it is cached, and returns its path. A failure leaves
 * FILE.error (the tool's message) instead of FILE, for the runner to report as its fatal line;
 * a later call tries again.
 */
export function ensureGguf(modelDir: string, type: GgufType, dtype: Dtype, tools: GgufTools): Promise<string> {
  const out = ggufPath(modelDir, type, dtype);
  // Labels started at once (BENCH_PARALLEL_START) may ask for the same file together, e.g.
  // llama-cpp[type=f16] beside llama-cpp[type=f16,backend=vulkan], or q8_0 and q4_k_m both
  // quantized from the f16 file: one conversion serves them all.
  const pending = inFlight.get(out);
  if (pending) return pending;
  const made = makeGguf(out, modelDir, type, dtype, tools).finally(() => inFlight.delete(out));
  inFlight.set(out, made);
  return made;
}

async function makeGguf(out: string, modelDir: string, type: GgufType, dtype: Dtype, tools: GgufTools): Promise<string> {
  if (existsSync(out) && existsSync(`${out}.json`)) return out;
  // The GGUFs of this model folder's earlier states (another fingerprint) go before a new one is made.
  if (!isTemporaryCopy(modelDir)) pruneStaleCopies(ggufCacheDir(), modelDir);
  mkdirSync(dirname(out), { recursive: true });
  rmSync(`${out}.error`, { force: true });
  try {
    // The converter would fail on these too, after seconds of importing torch.
    if (!existsSync(join(modelDir, "config.json"))) throw new Error(`${join(modelDir, "config.json")}: missing`);
    if (!existsSync(join(modelDir, "model.safetensors")) && !existsSync(join(modelDir, "model.safetensors.index.json"))) throw new Error(`${join(modelDir, "model.safetensors")}: missing (no weights in the model folder)`);
    // The GGUF goes to a temporary name and its record beside the final one, then the rename: only
    // the two together count as made (above).
    await replaceAtomicallyAsync(out, async (partial) => {
      const madeBy = await convertOrQuantize(partial, modelDir, type, dtype, tools);
      const provenance: GgufProvenance = {
        sha256: sha256OfFile(partial),
        made_by: madeBy,
        type,
        model_dir: resolve(modelDir),
        model_fingerprint: modelFingerprint(modelDir),
        made_at: new Date().toISOString(),
      };
      writeFileSync(`${out}.json`, `${JSON.stringify(provenance, null, 2)}\n`);
    });
  } catch (e) {
    writeFileSync(`${out}.error`, `${(e as Error).message}\n`);
  }
  return out;
}

/** Writes the GGUF of `type` to `partial` with llama.cpp's own tools; returns what made it. */
async function convertOrQuantize(partial: string, modelDir: string, type: GgufType, dtype: Dtype, tools: GgufTools): Promise<string> {
  if (isQuantizedType(type)) {
    const source = await ensureGguf(modelDir, dtype, dtype, tools);
    if (!existsSync(source)) throw new Error(`the ${dtype} GGUF it is quantized from was not made: ${readFileSync(`${source}.error`, "utf8")}`);
    await runLogged(`${LLAMA_QUANTIZE_PROGRAM} ${QUANTIZE_NAMES[type]}`, join(tools.binDir, LLAMA_QUANTIZE_PROGRAM), [source, partial, QUANTIZE_NAMES[type]!], { quiet: true });
    return `llama-quantize ${QUANTIZE_NAMES[type]} of ${source.split(sep).pop()} (sha256 ${JSON.parse(readFileSync(`${source}.json`, "utf8")).sha256.slice(0, 12)}), ${treeVersion(tools.tree)}`;
  }
  await runLogged(`convert_hf_to_gguf.py --outtype ${type}`, tools.python, [join(tools.tree, "convert_hf_to_gguf.py"), resolve(modelDir), "--outtype", type, "--outfile", partial], { env: converterEnv(tools.tree), quiet: true });
  return `convert_hf_to_gguf.py --outtype ${type}, ${treeVersion(tools.tree)}`;
}
