/**
 * MLX affine quantized copies of the benchmark model (`mlx-lm[quant=4bit]`, `[quant=8bit]`), made by
 * mlx-lm's own converter, never downloaded:
 *   python -m mlx_lm convert --hf-path MODEL -q --q-bits 4|8 --q-group-size 64 --dtype D --mlx-path OUT
 * (4 and 8 bits with group size 64: mlx-lm's defaults and the mlx-community checkpoints'; D, the dtype
 * of what stays unquantized (norms, scales, biases), is the run's dtype). Each copy is cached under
 * <cache>/mlx-quant/<derivedCopyName>-affine-q<bits>-g64-<dtype>/ (model/derived-cache.ts) with
 * qwen3-bench-quant.json beside its weights: the QuantizationRecord the results file keeps
 * (converter version, command, sha256 of each weights file, weight bytes), which the runner also
 * puts in its ready notes. mlx-lm's loader reads the quantization from the copy's config.json.
 * Unquantized copies in another dtype (what `mlx_lm.benchmark` loads in `qwen3-bench fidelity`) are
 * cached the same way under <cache>/mlx-convert/<derivedCopyName>-<dtype>/. Making a copy removes the
 * copies of the model folder's earlier states (pruneStaleCopies).
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Framework } from "./framework.ts";
import { runLogged, tryOutput } from "./host/command.ts";
import { modelFingerprint } from "./model/fingerprint.ts";
import { derivedCopyName, pruneStaleCopies } from "./model/derived-cache.ts";
import type { Dtype } from "./schema/model-config.ts";
import { QuantizationRecord } from "./schema/results.ts";
import { sha256OfFile } from "./model/hub-digest.ts";
import { replaceAtomicallyAsync } from "./atomic-file.ts";

/** The label values of mlx-lm's `quant` flag and the bits each means. */
export const MLX_QUANT_BITS = { "4bit": 4, "8bit": 8 } as const;
export type MlxQuant = keyof typeof MLX_QUANT_BITS;
/** mlx-lm's default group size (mlx_lm convert --q-group-size). */
export const MLX_QUANT_GROUP_SIZE = 64;
/** The file beside a copy's weights that records how it was made. */
export const QUANT_RECORD_FILE = "qwen3-bench-quant.json";

const MLX_DTYPE_NAMES: Record<Dtype, string> = { f16: "float16", bf16: "bfloat16", f32: "float32" };

/** Where the copy of (model, bits, dtype) lives. */
export function mlxQuantDir(cacheRoot: string, modelDir: string, bits: number, dtype: Dtype): string {
  return join(cacheRoot, "mlx-quant", `${derivedCopyName(modelDir)}-affine-q${bits}-g${MLX_QUANT_GROUP_SIZE}-${dtype}`);
}

/** Bytes of every tensor of a safetensors file (the data its header's offsets span). */
export function safetensorsTensorBytes(file: string): number {
  const fd = openSync(file, "r");
  try {
    const length = Buffer.alloc(8);
    readSync(fd, length, 0, 8, 0);
    const headerBytes = Number(length.readBigUInt64LE());
    const header = Buffer.alloc(headerBytes);
    readSync(fd, header, 0, headerBytes, 8);
    const tensors = JSON.parse(header.toString("utf8")) as Record<string, { data_offsets?: [number, number] }>;
    return Object.entries(tensors)
      .filter(([name]) => name !== "__metadata__")
      .reduce((sum, [, t]) => sum + (t.data_offsets ? t.data_offsets[1] - t.data_offsets[0] : 0), 0);
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes `dir` with `python -m mlx_lm convert ARGS --mlx-path` into a temporary folder of this
 * process, put in place when complete (after `finish` has added what it records: replaceAtomicallyAsync),
 * so an interrupted conversion leaves nothing that looks finished; the copies of the model folder's
 * earlier states go first. Returns what `finish` returns.
 */
async function convertInto<T>(dir: string, args: { python: string; env?: Record<string, string>; modelDir: string }, convert: string[], what: string, finish: (partial: string, command: string[], version: string) => T): Promise<T> {
  mkdirSync(dirname(dir), { recursive: true });
  pruneStaleCopies(dirname(dir), args.modelDir);
  const version = await tryOutput(args.python, ["-c", "from importlib.metadata import version; print(version('mlx-lm'))"], args.env);
  if (version === null) throw new Error(`${args.python} cannot report mlx-lm's version: is mlx-lm installed there? (npx qwen3-bench setup)`);
  return replaceAtomicallyAsync(dir, async (partial) => {
    const command = ["-m", "mlx_lm", "convert", ...convert, "--mlx-path", partial];
    await runLogged(what, args.python, command, { env: { HF_HUB_OFFLINE: "1", ...args.env } });
    return finish(partial, [args.python, ...command.map((a) => (a === partial ? dir : a))], version);
  });
}

/**
 * The quantized copy of `modelDir` for (bits, dtype), made with `python -m mlx_lm convert` when the
 * cache lacks it. `python` is the mlx-lm runner's own.
 */
export async function ensureMlxQuantized(args: { python: string; env?: Record<string, string>; modelDir: string; bits: number; dtype: Dtype; cacheRoot: string }): Promise<QuantizationRecord> {
  const dir = mlxQuantDir(args.cacheRoot, args.modelDir, args.bits, args.dtype);
  const recordFile = join(dir, QUANT_RECORD_FILE);
  if (existsSync(recordFile)) return QuantizationRecord.parse(JSON.parse(readFileSync(recordFile, "utf8")));
  const convert = ["--hf-path", resolve(args.modelDir), "-q", "--q-bits", String(args.bits), "--q-group-size", String(MLX_QUANT_GROUP_SIZE), "--dtype", MLX_DTYPE_NAMES[args.dtype]];
  return convertInto(dir, args, convert, `mlx_lm convert q${args.bits}`, (partial, command, version) => {
    const weights = readdirSync(partial).filter((f) => f.endsWith(".safetensors")).sort();
    if (weights.length === 0) throw new Error(`mlx_lm convert wrote no .safetensors into ${partial}`);
    const record: QuantizationRecord = {
      method: "mlx-affine",
      bits: args.bits,
      group_size: MLX_QUANT_GROUP_SIZE,
      converter: "mlx_lm.convert",
      converter_version: `mlx-lm ${version}`,
      command,
      dir,
      weights_sha256: Object.fromEntries(weights.map((f) => [f, sha256OfFile(join(partial, f))])),
      weight_bytes: weights.reduce((sum, f) => sum + safetensorsTensorBytes(join(partial, f)), 0),
      source_fingerprint: modelFingerprint(resolve(args.modelDir)),
    };
    writeFileSync(join(partial, QUANT_RECORD_FILE), JSON.stringify(record, null, 2) + "\n");
    return record;
  });
}

/** Where the unquantized copy of (model, dtype) lives: what `mlx_lm.benchmark` loads (it runs a checkpoint's own dtype). */
export function mlxConvertedDir(cacheRoot: string, modelDir: string, dtype: Dtype): string {
  return join(cacheRoot, "mlx-convert", `${derivedCopyName(modelDir)}-${dtype}`);
}

/** The copy of `modelDir` in `dtype` (`mlx_lm convert --dtype`), made once and kept in the cache beside the quantized ones. */
export async function ensureMlxConverted(args: { python: string; env?: Record<string, string>; modelDir: string; dtype: Dtype; cacheRoot: string }): Promise<string> {
  const dir = mlxConvertedDir(args.cacheRoot, args.modelDir, args.dtype);
  if (!existsSync(dir)) await convertInto(dir, args, ["--hf-path", resolve(args.modelDir), "--dtype", MLX_DTYPE_NAMES[args.dtype]], `mlx_lm convert ${args.dtype}`, () => {});
  return dir;
}

/**
 * mlx-lm with its `quant` flag: the runner is started on the quantized copy (made or taken from the
 * cache here) instead of the model folder, and the launch carries the copy's record for the results file.
 */
export function withMlxQuant(framework: Framework, cacheRoot: string): Framework {
  return {
    ...framework,
    async launch(modelDir, dtype, flags) {
      const spec = await framework.launch(modelDir, dtype, flags);
      const quant = flags?.find(([name]) => name === "quant")?.[1];
      if (quant === undefined) return spec;
      if (!(quant in MLX_QUANT_BITS)) throw new Error(`${framework.name}: quant=${quant}: expected ${Object.keys(MLX_QUANT_BITS).join(" or ")}`);
      const quantization = await ensureMlxQuantized({ python: spec.command, env: spec.env, modelDir, bits: MLX_QUANT_BITS[quant as MlxQuant], dtype, cacheRoot });
      const model = spec.args.indexOf("--model");
      if (model < 0) throw new Error(`${framework.name}: its launch has no --model argument to point at the quantized copy`);
      return { ...spec, args: spec.args.map((a, i) => (i === model + 1 ? quantization.dir : a)), quantization };
    },
  };
}
