import { parseArgs } from "node:util";
import { PRESETS, type PresetName } from "../harness/model/presets.ts";
import { synthesizeModel } from "../harness/model/synth.ts";
import { Dtype, Qwen3Config } from "../harness/schema/model-config.ts";
import { parseJsonFile } from "../harness/schema/parse.ts";

export const SYNTH_USAGE = `qwen3-bench synth [--preset 0.6b|tiny|tiny-tied | --config FILE] [--dtype bf16|f16|f32] [--seed N] [--shards N] --out DIR

Writes a Hugging Face-layout Qwen3 folder with seeded deterministic weights (Normal(0, 0.02) matrices,
ones for norms), Qwen3's real tokenizer files, and manifest.json (seed, sha256). Same seed, same bytes.
--shards N (N > 1) writes the weights as N files and model.safetensors.index.json, as save_pretrained
does for large checkpoints; the tensors' values do not depend on N.`;

export function synthCommand(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      preset: { type: "string" },
      config: { type: "string" },
      dtype: { type: "string", default: "bf16" },
      seed: { type: "string", default: "0" },
      shards: { type: "string", default: "1" },
      out: { type: "string" },
    },
  });
  if (!values.out) throw new Error(`--out DIR is required\n\n${SYNTH_USAGE}`);
  if (values.preset && values.config) throw new Error("synth: give --preset or --config, not both");
  const dtype = Dtype.parse(values.dtype);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`--seed must be an integer in 0..2^32-1, got ${values.seed}`);
  let config: Qwen3Config;
  let preset: string;
  if (values.config) {
    config = parseJsonFile(values.config, Qwen3Config);
    preset = `config:${values.config}`;
  } else {
    preset = values.preset ?? "0.6b";
    if (!(preset in PRESETS)) throw new Error(`--preset must be one of ${Object.keys(PRESETS).join(", ")}, got ${preset}`);
    config = PRESETS[preset as PresetName];
  }
  const shards = Number(values.shards);
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`--shards must be a positive integer, got ${values.shards}`);
  const manifest = synthesizeModel({ config, preset, dtype, seed, shards, outDir: values.out, log: (l) => console.error(l) });
  console.log(JSON.stringify(manifest, null, 2));
}

