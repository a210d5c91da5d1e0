// Bad input gets one clear error that names the file and the field, and a non-zero exit.
import { copyFileSync, mkdtempSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { PRESETS } from "../harness/model/presets.ts";
import { encodeSafetensorsHeader } from "../harness/model/safetensors.ts";
import { synthesizeModel } from "../harness/model/synth.ts";
import { qwen3Tensors } from "../harness/model/tensors.ts";
import { checkModelDir } from "../harness/model/validate.ts";
import { PROMPTS_FILE, REPO_ROOT } from "../harness/paths.ts";
import { readSettings } from "../harness/settings.ts";

const small = { ...PRESETS.tiny, vocab_size: 512, num_hidden_layers: 1 };
const CLI = join(REPO_ROOT, "bench", "cli", "main.ts");

function smallModel(): string {
  const dir = mkdtempSync(join(tmpdir(), "qwen3-bench-bad-"));
  synthesizeModel({ config: small, preset: "small", dtype: "f32", seed: 0, outDir: dir });
  return dir;
}

/** Rewrites model.safetensors with the given tensor list (zeros), keeping config.json. */
function writeTensors(dir: string, tensors: { name: string; shape: number[] }[]): void {
  const header = encodeSafetensorsHeader(tensors.map((t) => ({ ...t, dtype: "F32" })));
  const bytes = tensors.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1) * 4, 0);
  writeFileSync(join(dir, "model.safetensors"), Buffer.concat([header, Buffer.alloc(bytes)]));
}

describe("model folder checks", () => {
  test("a missing folder", () => {
    expect(() => checkModelDir("/no/such/model")).toThrow(/^\/no\/such\/model: model folder does not exist \(MODEL_PATH\)/);
  });

  test("a config that is not Qwen3 names config.json and the field", () => {
    const dir = smallModel();
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, model_type: "llama", architectures: ["LlamaForCausalLM"] }));
    expect(() => checkModelDir(dir)).toThrow(/config\.json: architectures: must include "Qwen3ForCausalLM".*model_type/);
  });

  test("a truncated safetensors file names the first tensor that does not fit", () => {
    const dir = smallModel();
    const file = join(dir, "model.safetensors");
    truncateSync(file, statSync(file).size - 100);
    expect(() => checkModelDir(dir)).toThrow(/model\.safetensors: lm_head\.weight: data ends at byte \d+ but the file has \d+ bytes \(truncated file\)/);
  });

  test("a missing tensor is named", () => {
    const dir = smallModel();
    writeTensors(dir, qwen3Tensors(small).filter((t) => t.name !== "model.layers.0.mlp.up_proj.weight"));
    expect(() => checkModelDir(dir)).toThrow("model.safetensors: model.layers.0.mlp.up_proj.weight: missing tensor");
  });

  test("a transposed weight is named with both shapes", () => {
    const dir = smallModel();
    writeTensors(dir, qwen3Tensors(small).map((t) => (t.name === "model.layers.0.self_attn.q_proj.weight" ? { ...t, shape: [...t.shape].reverse() } : t)));
    expect(() => checkModelDir(dir)).toThrow("model.safetensors: model.layers.0.self_attn.q_proj.weight: expected shape [128, 64], found [64, 128]");
  });

  test("sharded checkpoints: a shard that lacks a tensor the index lists", () => {
    const dir = smallModel();
    copyFileSync(join(dir, "model.safetensors"), join(dir, "model-00001-of-00001.safetensors"));
    const weightMap = Object.fromEntries([...qwen3Tensors(small).map((t) => [t.name, "model-00001-of-00001.safetensors"]), ["extra.weight", "model-00001-of-00001.safetensors"]]);
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: weightMap }));
    unlinkSync(join(dir, "model.safetensors"));
    expect(() => checkModelDir(dir)).toThrow("model-00001-of-00001.safetensors: extra.weight: listed in model.safetensors.index.json but not in the shard");
  });
});

describe("the CLI exits non-zero with one clear message", () => {
  test("an invalid prompts.json names the file and the field", async () => {
    const prompts = JSON.parse(readFileSync(PROMPTS_FILE, "utf8"));
    prompts.config.profiles.full.timed_iterations = 0;
    prompts.prompts[1].id = "Has Spaces";
    const file = join(mkdtempSync(join(tmpdir(), "qwen3-bench-prompts-")), "prompts.json");
    writeFileSync(file, JSON.stringify(prompts));
    const result = await execa(process.execPath, [CLI, "tokenize", file], { reject: false, env: { MODEL_PATH: smallModel() } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`${file}: config.profiles.full.timed_iterations: `);
    expect(result.stderr).toContain("prompts.1.id: ");
  });

  test("prompts.json that is not JSON", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "qwen3-bench-prompts-")), "prompts.json");
    writeFileSync(file, "{ nope");
    const result = await execa(process.execPath, [CLI, "tokenize", file], { reject: false });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`${file}: is not valid JSON`));
  });

  test("a MODEL_PATH that is not a Qwen3 folder", async () => {
    const dir = smallModel();
    truncateSync(join(dir, "model.safetensors"), 50);
    const result = await execa(process.execPath, [CLI, "doctor"], { reject: false, env: { MODEL_PATH: dir } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/model\.safetensors: /);
  });

  test("an unknown framework in BENCH_FRAMEWORKS", async () => {
    const result = await execa(process.execPath, [CLI, "setup", "--tests"], { reject: false, env: { BENCH_FRAMEWORKS: "mlx-lm,tensorflow" } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/BENCH_FRAMEWORKS: unknown framework "tensorflow"/);
  });

  test("BENCH_GPU_POWER: on by default, off on request, anything else named", () => {
    expect(readSettings({}).gpuPower).toBe(true);
    expect(readSettings({ BENCH_GPU_POWER: "off" }).gpuPower).toBe(false);
    expect(() => readSettings({ BENCH_GPU_POWER: "no" })).toThrow(/BENCH_GPU_POWER/);
  });
});
