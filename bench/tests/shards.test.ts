// Sharded safetensors and bf16 checkpoints, in every runner available here (as protocol.test.ts finds
// them; BENCH_FRAMEWORKS=labels narrows them). The tiny model is written four ways by `synth`: f32 and
// bf16, each as one model.safetensors and as model.safetensors.index.json + 2 shards, the shards laid
// out as a hub snapshot (symlinks into a blobs/ folder, bench/harness/model/hub-cache.ts) so runners
// also load through symlinks. Checks, chosen so that each can fail and none pretends more than it shows:
// - sharded == one file, token for token (same values, only the files differ), in f32 and bf16;
// - a bf16 checkpoint run in f32: every bf16 value widens to f32 exactly, so this is a loader test; its
//   teacher-forced top-1 on the f32 checkpoint's own greedy continuation must agree with the f32
//   checkpoint's (itself, always) at nearly every position: weights rounded to bf16 move logits a
//   little, a misread dtype (bf16 bytes taken as f16, or swapped halves) moves them everywhere.
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { splitFrameworkLabels } from "../harness/framework-label.ts";
import { FRAMEWORKS } from "../harness/frameworks.ts";
import { PRESETS } from "../harness/model/presets.ts";
import { synthesizeModel } from "../harness/model/synth.ts";
import { markTemporaryCopy, TEMPORARY_COPY_MARKER } from "../harness/model/temporary-copy.ts";
import { checkModelDir } from "../harness/model/validate.ts";
import { RunnerProcess } from "../harness/runner-process.ts";
import type { Dtype } from "../harness/schema/model-config.ts";
import { PromptTokenizer } from "../harness/tokenize.ts";
import { launchVariant, plainVariant, probeVariant, resolveVariants } from "../harness/variants.ts";

const TIMEOUT_MS = 120_000;
const NEW_TOKENS = 24;
/**
 * Least share of positions where the bf16 checkpoint's teacher-forced top-1 matches the f32
 * checkpoint's. Measured 2026-12-07 on this tiny random model: mlx-lm and torch (CPU) 23/24 (0.958). Its random
 * logits are nearly flat, so bf16 rounding flips a few argmaxes (greedy tokens diverge after 2);
 * a misread dtype would agree at about none, so 0.75 leaves room on both sides.
 */
const BF16_TOP1_AGREEMENT = 0.75;

const variants = process.env.BENCH_FRAMEWORKS ? resolveVariants(splitFrameworkLabels(process.env.BENCH_FRAMEWORKS)) : FRAMEWORKS.map(plainVariant);
const probes = await Promise.all(variants.map(async (v) => ({ v, ...(await probeVariant(v)) })));
const available = probes.filter((p) => p.available).map((p) => p.v);

let work: string;
const models = {} as Record<"f32" | "f32Sharded" | "bf16" | "bf16Sharded", string>;
let prompt: number[];

/**
 * A synthetic tiny model (untied: tied random embeddings mostly echo the input) in `dtype`, as one file
 * or as 2 shards in a hub snapshot's layout; marked a temporary copy, so llama-cpp's GGUFs of it stay inside.
 */
function write(name: string, dtype: Dtype, shards: number): string {
  const dir = join(work, name);
  synthesizeModel({ config: PRESETS.tiny, preset: "tiny", dtype, seed: 0, outDir: dir, shards });
  if (shards === 1) {
    markTemporaryCopy(dir);
    return dir;
  }
  // blobs/<file> and snapshots/s/<file> -> ../../blobs/<file>, as the hub cache stores them.
  const blobs = join(dir, "blobs");
  const snapshot = join(dir, "snapshots", "s");
  mkdirSync(blobs, { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  for (const file of readdirSync(dir).filter((f) => f !== "blobs" && f !== "snapshots")) {
    renameSync(join(dir, file), join(blobs, file));
    symlinkSync(`../../blobs/${file}`, join(snapshot, file));
  }
  markTemporaryCopy(snapshot);
  return snapshot;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "qwen3-bench-shards-"));
  models.f32 = write("f32", "f32", 1);
  models.f32Sharded = write("f32-sharded", "f32", 2);
  models.bf16 = write("bf16", "bf16", 1);
  models.bf16Sharded = write("bf16-sharded", "bf16", 2);
  prompt = new PromptTokenizer(models.f32).tokenize({ id: "p", system: "", user: "Explain in two sentences why the sky is blue." }).promptTokenIds;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test("the harness's model check accepts every form, and finds the shards through the index", () => {
  for (const dir of Object.values(models)) expect(checkModelDir(dir).config.num_hidden_layers).toBe(2);
  expect(readdirSync(models.f32Sharded).sort()).toEqual([TEMPORARY_COPY_MARKER, "config.json", "manifest.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json"]);
});

test("at least one runner is available to load them", () => {
  expect(available.length, probes.map((p) => `${p.v.label}: ${p.reason}`).join("; ")).toBeGreaterThan(0);
});

describe.each(available.map((v) => [v.label, v] as const))("%s", (_, variant) => {
  /** Greedy tokens of `dir` run in `dtype`, and the teacher-forced argmax over `continuation` when given. */
  async function run(dir: string, dtype: Dtype, continuation?: number[]): Promise<{ tokens: number[]; argmax: number[] | null; parameters: number; dtype: string }> {
    const runner = await RunnerProcess.start(await launchVariant(variant, dir, dtype), TIMEOUT_MS);
    try {
      // Every runner computes in f32; one that cannot in bf16 (burn-mlx) says so in its ready line and runs f32.
      if (dtype === "f32") expect(runner.ready.dtype).toBe("f32");
      const { reply } = await runner.generate({ prompt_token_ids: prompt, max_new_tokens: NEW_TOKENS, ignore_eos: true }, TIMEOUT_MS);
      const scored = continuation ? (await runner.score({ prompt_token_ids: prompt, continuation_token_ids: continuation, top_k: 1 }, TIMEOUT_MS)).reply.argmax_ids : null;
      return { tokens: reply.token_ids, argmax: scored, parameters: runner.ready.parameter_count, dtype: runner.ready.dtype };
    } finally {
      await runner.shutdown();
    }
  }

  let f32: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    f32 = await run(models.f32, "f32");
    f32 = await run(models.f32, "f32", f32.tokens);
  }, 2 * TIMEOUT_MS);

  test("f32 in 2 shards (through symlinks) gives the one-file model's tokens exactly", async () => {
    const sharded = await run(models.f32Sharded, "f32");
    expect(sharded.parameters).toBe(f32.parameters);
    expect(sharded.tokens).toEqual(f32.tokens);
  });

  test("bf16 in 2 shards gives the one-file bf16 model's tokens exactly, run in f32 and in bf16", async () => {
    for (const dtype of ["f32", "bf16"] as const) {
      const [one, sharded] = [await run(models.bf16, dtype), await run(models.bf16Sharded, dtype)];
      if (one.dtype !== dtype) console.log(`${variant.label}: asked for ${dtype}, ran ${one.dtype} (its ready line says why)`);
      expect(sharded.dtype).toBe(one.dtype);
      expect(sharded.tokens, dtype).toEqual(one.tokens);
      expect(one.tokens, dtype).toHaveLength(NEW_TOKENS);
    }
  });

  test(`a bf16 checkpoint run in f32 agrees with the f32 checkpoint's teacher-forced top-1 at >= ${BF16_TOP1_AGREEMENT * 100} % of positions`, async () => {
    const bf16 = await run(models.bf16, "f32", f32.tokens);
    expect(f32.argmax).toEqual(f32.tokens);
    const agree = bf16.argmax!.filter((id, i) => id === f32.argmax![i]).length / NEW_TOKENS;
    console.log(`${variant.label}: bf16 checkpoint vs f32, teacher-forced top-1 agreement ${agree.toFixed(3)} over ${NEW_TOKENS} positions; greedy tokens ${bf16.tokens.filter((t, i) => t === f32.tokens[i]).length}/${NEW_TOKENS} equal`);
    expect(agree).toBeGreaterThanOrEqual(BF16_TOP1_AGREEMENT);
  });
});
