import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { encodeFloats } from "../harness/model/dtype-codec.ts";
import { sha256OfFile } from "../harness/model/hub-digest.ts";
import { PRESETS, QWEN3_0_6B } from "../harness/model/presets.ts";
import { synthesizeModel } from "../harness/model/synth.ts";
import { parameterCount, qwen3Tensors } from "../harness/model/tensors.ts";
import { checkModelDir } from "../harness/model/validate.ts";
import { REPO_ROOT } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { SynthManifest } from "../harness/schema/model-config.ts";

const small = { ...PRESETS.tiny, vocab_size: 512, num_hidden_layers: 1 };
const tmp = () => mkdtempSync(join(tmpdir(), "qwen3-bench-synth-"));
const CLI = join(REPO_ROOT, "bench", "cli", "main.ts");
/** Every file of a folder, name → sha256 (a leftover temporary file shows up as an extra name). */
const folderSha256 = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((file) => [file, sha256OfFile(join(dir, file))]));

describe("synthetic models", () => {
  test("the 0.6b preset has Qwen3-0.6B's tensors: 596,049,920 parameters (0.44B without embeddings), 310 tensors", () => {
    expect(parameterCount(QWEN3_0_6B)).toBe(596_049_920);
    expect(parameterCount(QWEN3_0_6B) - 151_936 * 1024).toBe(440_467_456);
    expect(qwen3Tensors(QWEN3_0_6B)).toHaveLength(310);
    expect(qwen3Tensors(QWEN3_0_6B).some((t) => t.name === "lm_head.weight")).toBe(false);
    expect(qwen3Tensors(PRESETS.tiny).find((t) => t.name === "lm_head.weight")?.shape).toEqual([151_936, 64]);
  });

  test("the tiny preset's head_dim differs from hidden_size / heads and uses grouped-query attention", () => {
    const t = PRESETS.tiny;
    expect(t.head_dim).not.toBe(t.hidden_size / t.num_attention_heads);
    expect(t.num_attention_heads).toBeGreaterThan(t.num_key_value_heads);
    expect(qwen3Tensors(t).find((x) => x.name === "model.layers.0.self_attn.q_proj.weight")?.shape).toEqual([128, 64]);
    expect(qwen3Tensors(t).find((x) => x.name === "model.layers.0.self_attn.k_proj.weight")?.shape).toEqual([64, 64]);
  });

  test("same seed, same bytes on any machine: the test models' sha256 are the committed values", () => {
    // These hashes were recorded when the generator was written; a change here changes every
    // golden output, so it must be deliberate (and the goldens regenerated).
    const tiny = SynthManifest.parse(JSON.parse(readFileSync(join(TEST_MODELS.tiny, "manifest.json"), "utf8")));
    const tied = SynthManifest.parse(JSON.parse(readFileSync(join(TEST_MODELS.tinyTied, "manifest.json"), "utf8")));
    expect(tiny.sha256).toBe("0b05d8882cdd5efaf6f0cb17ed9eacffdfecf3b9bcb9f9e81f670d919a732aa5");
    expect(tied.sha256).toBe("aac5f953cd4e8404544a9d396903cdaa350b2a76aad2f8c114f2d2d9d4f57cf3");
  });

  test("regenerating gives the same sha256; another seed gives another", () => {
    const a = synthesizeModel({ config: small, preset: "small", dtype: "bf16", seed: 7, outDir: tmp() });
    const b = synthesizeModel({ config: small, preset: "small", dtype: "bf16", seed: 7, outDir: tmp() });
    const c = synthesizeModel({ config: small, preset: "small", dtype: "bf16", seed: 8, outDir: tmp() });
    expect(a.sha256).toBe(b.sha256);
    expect(c.sha256).not.toBe(a.sha256);
  });

  test("weights look like Normal(0, 0.02) and norms are ones", () => {
    const dir = tmp();
    synthesizeModel({ config: small, preset: "small", dtype: "f32", seed: 1, outDir: dir });
    const bytes = readFileSync(join(dir, "model.safetensors"));
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString());
    const slice = (name: string) => {
      const [s, e] = header[name].data_offsets;
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset + 8 + headerLen + s, bytes.byteOffset + 8 + headerLen + e));
    };
    const emb = slice("model.embed_tokens.weight");
    const mean = emb.reduce((a, b) => a + b, 0) / emb.length;
    const std = Math.sqrt(emb.reduce((a, b) => a + (b - mean) ** 2, 0) / emb.length);
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(std).toBeGreaterThan(0.0195);
    expect(std).toBeLessThan(0.0205);
    expect([...slice("model.norm.weight")].every((v) => v === 1)).toBe(true);
    expect(checkModelDir(dir).manifest?.seed).toBe(1);
  });

  test.each([1, 2])("two generations into one folder at once (--shards %i) both succeed and leave what one generation writes", async (shards) => {
    // Two `setup` processes started seconds apart both found no model and generated it into the same
    // folder: with one shared temporary name, the second writer's rename failed (ENOENT) and its setup exited 1.
    const dir = tmp();
    const synth = () => execa(process.execPath, [CLI, "synth", "--preset", "tiny", "--shards", String(shards), "--out", dir], { reject: false, cwd: REPO_ROOT });
    const runs = await Promise.all([synth(), synth()]);
    expect(runs.map((r) => (r.exitCode === 0 ? 0 : `${r.exitCode}: ${r.stderr}`))).toEqual([0, 0]);
    const alone = tmp();
    const manifest = synthesizeModel({ config: PRESETS.tiny, preset: "tiny", dtype: "bf16", seed: 0, shards, outDir: alone });
    expect(checkModelDir(dir).manifest?.sha256).toBe(manifest.sha256);
    expect(folderSha256(dir)).toEqual(folderSha256(alone));
  });
});

describe("dtype encoding (round to nearest even)", () => {
  const u16 = (values: number[], dtype: "f16" | "bf16") => [...new Uint16Array(new Uint8Array(encodeFloats(new Float32Array(values), dtype)).buffer)];

  test("f16 known bit patterns", () => {
    // 1 → 0x3C00, −2 → 0xC000, 0.1 → 0x2E66, 65504 (max) → 0x7BFF, 1e6 → inf 0x7C00,
    // 2^-24 (smallest subnormal) → 0x0001, 1e-8 → 0.
    expect(u16([1, -2, 0.1, 65504, 1e6, 2 ** -24, 1e-8], "f16")).toEqual([0x3c00, 0xc000, 0x2e66, 0x7bff, 0x7c00, 0x0001, 0x0000]);
  });

  test("bf16 known bit patterns", () => {
    // 1 → 0x3F80, −2 → 0xC000, 0.1 → 0x3DCD, 1 + 2^-8 (a tie) → 0x3F80 (to even), 1 + 3·2^-8 → 0x3F82.
    expect(u16([1, -2, 0.1, 1 + 2 ** -8, 1 + 3 * 2 ** -8], "bf16")).toEqual([0x3f80, 0xc000, 0x3dcd, 0x3f80, 0x3f82]);
  });
});
