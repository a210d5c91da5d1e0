import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { z } from "zod";
import { Qwen3Config, SynthManifest, type Dtype } from "../schema/model-config.ts";
import { InputFileError, parseJsonFile } from "../schema/parse.ts";
import type { ModelInfo } from "../schema/results.ts";
import { DTYPE_BYTES } from "./dtype-codec.ts";
import { ModelFileError, readSafetensorsHeader, type TensorEntry } from "./safetensors.ts";
import { parameterCount, qwen3Tensors } from "./tensors.ts";

const ShardIndex = z.object({ weight_map: z.record(z.string(), z.string()) });

/** A model folder after every check: what the results file records about it. */
export interface CheckedModel {
  dir: string;
  config: Qwen3Config;
  manifest: SynthManifest | null;
  info(dtype: Dtype): ModelInfo;
}

/** The model's results-file record for a run in `dtype`: weight bytes follow the dtype actually used. */
export const modelInfoFor = (info: ModelInfo, dtype: Dtype): ModelInfo => ({ ...info, weight_bytes: info.parameter_count * DTYPE_BYTES[dtype] });

/** sha256 of a JSON value with keys sorted at every level. */
export function canonicalJsonSha256(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === "object"
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  return createHash("sha256").update(JSON.stringify(canonical(value))).digest("hex");
}

/**
 * Checks a Hugging Face-layout Qwen3 folder before any runner sees it: config.json is a Qwen3
 * config, the safetensors file (or every shard of model.safetensors.index.json) is complete, and
 * every tensor the architecture needs is present with the right shape. Throws one error naming the
 * file and the field or tensor.
 */
export function checkModelDir(dir: string): CheckedModel {
  if (!existsSync(dir)) throw new InputFileError(dir, "model folder does not exist (MODEL_PATH)");
  const configFile = join(dir, "config.json");
  const config = parseJsonFile(configFile, Qwen3Config);
  for (const file of ["tokenizer.json", "tokenizer_config.json"]) {
    if (!existsSync(join(dir, file))) throw new InputFileError(join(dir, file), "missing (the harness tokenizes prompts with it)");
  }

  const single = join(dir, "model.safetensors");
  const indexFile = join(dir, "model.safetensors.index.json");
  const tensors = new Map<string, { file: string; entry: TensorEntry }>();
  if (existsSync(single)) {
    const header = readSafetensorsHeader(single);
    for (const [name, entry] of header.tensors) tensors.set(name, { file: "model.safetensors", entry });
  } else if (existsSync(indexFile)) {
    const index = parseJsonFile(indexFile, ShardIndex);
    for (const shard of new Set(Object.values(index.weight_map))) {
      const header = readSafetensorsHeader(join(dir, shard));
      for (const [name, entry] of header.tensors) tensors.set(name, { file: shard, entry });
    }
    for (const [name, shard] of Object.entries(index.weight_map)) {
      if (!tensors.has(name)) throw new ModelFileError(shard, name, "listed in model.safetensors.index.json but not in the shard");
    }
  } else {
    throw new InputFileError(dir, "has neither model.safetensors nor model.safetensors.index.json");
  }

  const weightsFile = existsSync(single) ? "model.safetensors" : "model.safetensors (shards)";
  for (const spec of qwen3Tensors(config)) {
    const found = tensors.get(spec.name);
    if (!found) throw new ModelFileError(weightsFile, spec.name, "missing tensor");
    if (found.entry.shape.join(",") !== spec.shape.join(",")) {
      throw new ModelFileError(found.file, spec.name, `expected shape [${spec.shape.join(", ")}], found [${found.entry.shape.join(", ")}]`);
    }
  }

  const manifestFile = join(dir, "manifest.json");
  const manifest = existsSync(manifestFile) ? parseJsonFile(manifestFile, SynthManifest) : null;
  const configSha = canonicalJsonSha256(JSON.parse(readFileSync(configFile, "utf8")));
  const params = parameterCount(config);
  return {
    dir,
    config,
    manifest,
    info: (dtype) =>
      modelInfoFor(
        {
          path: dir,
          name: basename(dir),
          config_sha256: configSha,
          synthetic: manifest !== null,
          synth_seed: manifest?.seed ?? null,
          parameter_count: params,
          weight_bytes: 0,
          num_hidden_layers: config.num_hidden_layers,
          hidden_size: config.hidden_size,
        },
        dtype,
      ),
  };
}
