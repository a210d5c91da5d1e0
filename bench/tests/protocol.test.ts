// Conformance suite: every runner available on this machine speaks runners/PROTOCOL.md, and
// reproduces the reference goldens (transformers, f32) exactly on the tiny synthetic models.
// BENCH_REQUIRE=a,b makes the suite fail when a named runner is unavailable (CI sets it).
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FRAMEWORKS } from "../harness/frameworks.ts";
import { FIXTURES_DIR } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { RunnerProcess } from "../harness/runner-process.ts";
import { ErrorReply, GenerateReply, ReadyMessage, ScoreReply } from "../harness/schema/protocol.ts";
import { SynthManifest } from "../harness/schema/model-config.ts";

const TIMEOUT_MS = 120_000;
const probes = await Promise.all(FRAMEWORKS.map(async (f) => ({ framework: f, ...(await f.probe()) })));
const available = probes.filter((p) => p.available).map((p) => p.framework);
const required = (process.env.BENCH_REQUIRE ?? "").split(",").map((s) => s.trim()).filter(Boolean);

interface Golden {
  model: { sha256: string };
  max_new_tokens: number;
  top_k: number;
  prompts: Record<string, { prompt_token_ids: number[]; token_ids: number[]; score_argmax_ids: number[]; score_top_k: [number, number][][] }>;
}
const goldens = [TEST_MODELS.tiny, TEST_MODELS.tinyTied].map((dir) => ({
  dir,
  golden: JSON.parse(readFileSync(join(FIXTURES_DIR, "goldens", `${basename(dir)}.json`), "utf8")) as Golden,
}));

test("runners required on this machine are available", () => {
  for (const name of required) {
    const probe = probes.find((p) => p.framework.name === name);
    expect(probe, `BENCH_REQUIRE names unknown framework ${name}`).toBeDefined();
    expect(probe!.available, `${name}: ${probe!.reason}`).toBe(true);
  }
  expect(available.length, `no runner is available: ${probes.map((p) => `${p.framework.name}: ${p.reason}`).join("; ")}`).toBeGreaterThan(0);
});

test("goldens were made from the test models as they are generated now", () => {
  for (const { dir, golden } of goldens) {
    const manifest = SynthManifest.parse(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
    expect(golden.model.sha256, `${dir}: regenerate fixtures/goldens with fixtures/make_goldens.py`).toBe(manifest.sha256);
  }
});

describe.each(available.map((f) => [f.name, f] as const))("%s", (name, framework) => {
  describe("protocol conformance (tiny model, f32)", () => {
    let runner: RunnerProcess;
    beforeAll(async () => {
      runner = await RunnerProcess.start(await framework.launch(TEST_MODELS.tiny, "f32"), TIMEOUT_MS);
    }, TIMEOUT_MS);
    afterAll(() => runner?.shutdown());

    test("ready line: protocol version, framework name, dtype actually used, parameter count", () => {
      expect(ReadyMessage.parse(runner.ready)).toBeTruthy();
      expect(runner.ready.framework).toBe(framework.readyFramework);
      expect(runner.ready.dtype).toBe("f32");
      expect(runner.ready.parameter_count).toBe(19_546_560);
    });

    test("generate: exactly max_new_tokens ids, one non-decreasing time each, EOS ignored", async () => {
      const raw = await runner.sendRaw(JSON.stringify({ id: 7, op: "generate", prompt_token_ids: [151644, 872, 198], max_new_tokens: 12, ignore_eos: true }), TIMEOUT_MS);
      const reply = GenerateReply.parse(raw);
      expect(reply.id).toBe(7);
      expect(reply.token_ids).toHaveLength(12);
      expect(reply.token_times_ns).toHaveLength(12);
      for (let i = 1; i < 12; i++) expect(reply.token_times_ns[i]).toBeGreaterThanOrEqual(reply.token_times_ns[i - 1]);
      expect(reply.total_time_ns).toBeGreaterThanOrEqual(reply.token_times_ns[11]);
      expect(reply.peak_rss_bytes).toBeGreaterThan(0);
      for (const id of reply.token_ids) expect(id).toBeLessThan(151_936);
    });

    test("score: one argmax and top_k sorted [id, logit] pairs per continuation token", async () => {
      const reply = ScoreReply.parse(await runner.sendRaw(JSON.stringify({ id: 8, op: "score", prompt_token_ids: [151644, 872], continuation_token_ids: [198, 100, 200], top_k: 4 }), TIMEOUT_MS));
      expect(reply.argmax_ids).toHaveLength(3);
      expect(reply.top_k).toHaveLength(3);
      for (const [i, row] of reply.top_k.entries()) {
        expect(row).toHaveLength(4);
        expect(row[0][0]).toBe(reply.argmax_ids[i]);
        for (let j = 1; j < 4; j++) expect(row[j][1]).toBeLessThanOrEqual(row[j - 1][1]);
      }
    });

    test.each([
      ["a token id outside the vocabulary", JSON.stringify({ id: 9, op: "generate", prompt_token_ids: [151936], max_new_tokens: 2, ignore_eos: true }), 9, /prompt_token_ids\[0\]/],
      ["an empty prompt", JSON.stringify({ id: 10, op: "generate", prompt_token_ids: [], max_new_tokens: 2, ignore_eos: true }), 10, /prompt_token_ids/],
      ["max_new_tokens 0", JSON.stringify({ id: 11, op: "generate", prompt_token_ids: [1], max_new_tokens: 0, ignore_eos: true }), 11, /max_new_tokens/],
      ["an unknown op", JSON.stringify({ id: 12, op: "fly" }), 12, /op/],
      ["a sequence longer than max_position_embeddings", JSON.stringify({ id: 13, op: "generate", prompt_token_ids: [1], max_new_tokens: 5000, ignore_eos: true }), 13, /max_position_embeddings/],
      ["malformed JSON", "{not json", null, /JSON|json/],
    ])("%s gets a bad_request error reply, and the runner stays usable", async (_, line, id, pattern) => {
      const error = ErrorReply.parse(await runner.sendRaw(line, TIMEOUT_MS));
      expect(error.id).toBe(id);
      expect(error.error.kind).toBe("bad_request");
      expect(error.error.message).toMatch(pattern);
      const after = await runner.generate({ prompt_token_ids: [1, 2], max_new_tokens: 2, ignore_eos: true }, TIMEOUT_MS);
      expect(after.reply.token_ids).toHaveLength(2);
    });
  });

  describe.each(goldens.map((g) => [basename(g.dir), g] as const))("agreement with the reference goldens on %s (f32, exact)", (_, { dir, golden }) => {
    let runner: RunnerProcess;
    beforeAll(async () => {
      runner = await RunnerProcess.start(await framework.launch(dir, "f32"), TIMEOUT_MS);
    }, TIMEOUT_MS);
    afterAll(() => runner?.shutdown());

    test.each(Object.keys(golden.prompts))("%s: greedy tokens identical; teacher-forced argmax and top-k logits match", async (promptId) => {
      const g = golden.prompts[promptId];
      const { reply } = await runner.generate({ prompt_token_ids: g.prompt_token_ids, max_new_tokens: golden.max_new_tokens, ignore_eos: true }, TIMEOUT_MS);
      expect(reply.token_ids).toEqual(g.token_ids);
      const score = await runner.score({ prompt_token_ids: g.prompt_token_ids, continuation_token_ids: g.token_ids, top_k: golden.top_k }, TIMEOUT_MS);
      expect(score.reply.argmax_ids).toEqual(g.score_argmax_ids);
      for (const [i, row] of score.reply.top_k.entries()) {
        expect(row.map(([id]) => id), `position ${i} top-${golden.top_k} ids`).toEqual(g.score_top_k[i].map(([id]) => id));
        for (const [j, [, logit]] of row.entries()) expect(Math.abs(logit - g.score_top_k[i][j][1]), `position ${i} rank ${j} logit`).toBeLessThan(1e-3);
      }
    });
  });
});
