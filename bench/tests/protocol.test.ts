// Conformance suite: every runner available on this machine speaks runners/PROTOCOL.md (one case per
// field rule, and the process lifecycle: ready or fatal, shutdown, end of input), and reproduces the
// reference goldens (transformers, f32) exactly on the tiny synthetic models.
// BENCH_REQUIRE=a,b makes the suite fail when a named runner is unavailable (CI sets it).
// BENCH_FRAMEWORKS=labels checks those labels only, runner flags included (the macOS job checks
// mlx-swift[device=cpu] on GitHub's hosted Macs, whose paravirtual GPU cannot be trusted).
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { splitFrameworkLabels } from "../harness/framework-label.ts";
import { FRAMEWORKS } from "../harness/frameworks.ts";
import { FIXTURES_DIR } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { markTemporaryCopy } from "../harness/model/temporary-copy.ts";
import { RunnerProcess, type LaunchSpec } from "../harness/runner-process.ts";
import { ErrorReply, FatalMessage, GenerateReply, ReadyMessage, ScoreReply } from "../harness/schema/protocol.ts";
import { SynthManifest, type Dtype } from "../harness/schema/model-config.ts";
import { launchVariant, plainVariant, probeVariant, resolveVariants } from "../harness/variants.ts";

const TIMEOUT_MS = 120_000;
/** A runner under test: a framework label (a plain framework, or one with runner flags or a build). */
interface Subject {
  name: string;
  readyFramework: string;
  launch(modelDir: string, dtype: Dtype): Promise<LaunchSpec>;
}
const variants = process.env.BENCH_FRAMEWORKS ? resolveVariants(splitFrameworkLabels(process.env.BENCH_FRAMEWORKS)) : FRAMEWORKS.map(plainVariant);
const probes = await Promise.all(
  variants.map(async (v) => ({
    framework: { name: v.label, readyFramework: v.framework.readyFramework, launch: (dir: string, dtype: Dtype) => launchVariant(v, dir, dtype) } as Subject,
    base: v.framework.name,
    ...(await probeVariant(v)),
  })),
);
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

const VOCAB = 151_936;
/** The tiny test model's max_position_embeddings. */
const MAX_POSITIONS = 4096;
const generate = (fields: Record<string, unknown>) => ({ id: 20, op: "generate", prompt_token_ids: [1, 2, 3], max_new_tokens: 2, ignore_eos: true, ...fields });
const score = (fields: Record<string, unknown>) => ({ id: 30, op: "score", prompt_token_ids: [1, 2], continuation_token_ids: [3, 4], top_k: 2, ...fields });
const without = (request: Record<string, unknown>, field: string) => Object.fromEntries(Object.entries(request).filter(([k]) => k !== field));

/**
 * One case per field rule of runners/PROTOCOL.md ("Requests and replies", "Errors"): the request
 * line (an object is sent as JSON), the id the error reply must carry, and what its message must
 * name. Every runner must answer each with kind bad_request and then serve a good request.
 */
const FIELD_RULES: Array<[string, Record<string, unknown> | string, number | null, RegExp]> = [
  ["malformed JSON (id null)", "{not json", null, /JSON|json/],
  ["a line that is not a JSON object (id null)", "[1, 2]", null, /object/],
  ["id missing (id null)", without(generate({}), "id"), null, /\bid\b/],
  ["id not an integer (id null)", generate({ id: "20" }), null, /\bid\b/],
  ["id fractional (id null)", generate({ id: 20.5 }), null, /\bid\b/],
  ["op missing", { id: 12 }, 12, /\bop\b/],
  ["an unknown op", { id: 12, op: "fly" }, 12, /\bop\b/],
  ["generate: prompt_token_ids missing", without(generate({}), "prompt_token_ids"), 20, /prompt_token_ids/],
  ["generate: prompt_token_ids not an array", generate({ prompt_token_ids: "1 2 3" }), 20, /prompt_token_ids/],
  ["generate: an empty prompt", generate({ prompt_token_ids: [] }), 20, /prompt_token_ids/],
  ["generate: a token id that is not an integer", generate({ prompt_token_ids: [1, "2"] }), 20, /prompt_token_ids\[1\]/],
  ["generate: a fractional token id", generate({ prompt_token_ids: [1, 2.5] }), 20, /prompt_token_ids\[1\]/],
  ["generate: a negative token id", generate({ prompt_token_ids: [-1] }), 20, /prompt_token_ids\[0\]/],
  ["generate: a token id outside the vocabulary", generate({ prompt_token_ids: [1, VOCAB] }), 20, /prompt_token_ids\[1\]/],
  ["generate: max_new_tokens missing", without(generate({}), "max_new_tokens"), 20, /max_new_tokens/],
  ["generate: max_new_tokens not an integer", generate({ max_new_tokens: "2" }), 20, /max_new_tokens/],
  ["generate: max_new_tokens 0", generate({ max_new_tokens: 0 }), 20, /max_new_tokens/],
  ["generate: ignore_eos missing", without(generate({}), "ignore_eos"), 20, /ignore_eos/],
  ["generate: ignore_eos false", generate({ ignore_eos: false }), 20, /ignore_eos/],
  ["generate: ignore_eos not a boolean", generate({ ignore_eos: "true" }), 20, /ignore_eos/],
  ["generate: prompt + max_new_tokens longer than max_position_embeddings", generate({ prompt_token_ids: [1], max_new_tokens: MAX_POSITIONS }), 20, /max_position_embeddings/],
  ["score: prompt_token_ids missing", without(score({}), "prompt_token_ids"), 30, /prompt_token_ids/],
  ["score: an empty prompt", score({ prompt_token_ids: [] }), 30, /prompt_token_ids/],
  ["score: continuation_token_ids missing", without(score({}), "continuation_token_ids"), 30, /continuation_token_ids/],
  ["score: an empty continuation", score({ continuation_token_ids: [] }), 30, /continuation_token_ids/],
  ["score: a continuation id outside the vocabulary", score({ continuation_token_ids: [3, VOCAB + 5] }), 30, /continuation_token_ids\[1\]/],
  ["score: top_k missing", without(score({}), "top_k"), 30, /top_k/],
  ["score: top_k not an integer", score({ top_k: 2.5 }), 30, /top_k/],
  ["score: top_k 0", score({ top_k: 0 }), 30, /top_k/],
  ["score: top_k larger than the vocabulary", score({ top_k: VOCAB + 1 }), 30, /top_k/],
  ["score: prompt + continuation longer than max_position_embeddings", score({ continuation_token_ids: Array.from({ length: MAX_POSITIONS }, () => 3) }), 30, /max_position_embeddings/],
];

/** Temporary copies of the tiny model (marked so: the GGUFs llama-cpp makes of them stay inside), removed after the tests. */
const copies: string[] = [];
afterAll(() => copies.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function temporaryCopy(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  copies.push(dir);
  cpSync(TEST_MODELS.tiny, dir, { recursive: true });
  markTemporaryCopy(dir);
  return dir;
}

/** A copy of the tiny model whose config no longer matches its MLP weights' shapes. */
function wrongShapeModel(): string {
  const dir = temporaryCopy("qwen3-bench-wrong-shape-");
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, intermediate_size: config.intermediate_size + 8 }));
  return dir;
}

/** A copy of the tiny model without model.safetensors. */
function weightlessModel(): string {
  const dir = temporaryCopy("qwen3-bench-no-weights-");
  rmSync(join(dir, "model.safetensors"));
  return dir;
}

/**
 * Starts a runner, sends `requests` once it has printed its first line, closes stdin, and waits for
 * the exit: its first line (ready or fatal), every later stdout line as JSON, the exit status.
 */
async function runToExit(spec: LaunchSpec, requests: object[]): Promise<{ startup: unknown; replies: unknown[]; exitCode: number | null }> {
  const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: { ...process.env, HF_HUB_OFFLINE: "1", ...spec.env }, stdio: ["pipe", "pipe", "ignore"] });
  const lines: unknown[] = [];
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS - 5_000);
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(JSON.parse(line));
    if (lines.length === 1) {
      for (const r of requests) child.stdin.write(`${JSON.stringify(r)}\n`);
      child.stdin.end();
    }
  });
  child.stdin.on("error", () => {});
  const exitCode = await exited;
  clearTimeout(timer);
  return { startup: lines[0], replies: lines.slice(1), exitCode };
}

test("runners required on this machine are available", () => {
  for (const name of required) {
    const probe = probes.find((p) => p.framework.name === name) ?? probes.find((p) => p.base === name);
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

    test.each(FIELD_RULES)("%s: bad_request naming the field, same id, and the runner stays usable", async (_, request, id, pattern) => {
      const line = typeof request === "string" ? request : JSON.stringify(request);
      const error = ErrorReply.parse(await runner.sendRaw(line, TIMEOUT_MS));
      expect(error.id).toBe(id);
      expect(error.error.kind).toBe("bad_request");
      expect(error.error.message).toMatch(pattern);
      const after = await runner.generate({ prompt_token_ids: [1, 2], max_new_tokens: 2, ignore_eos: true }, TIMEOUT_MS);
      expect(after.reply.token_ids).toHaveLength(2);
    });
  });

  describe("process lifecycle (tiny model, f32)", () => {
    test("shutdown: the reply with its id, then exit status 0", async () => {
      const { replies, exitCode } = await runToExit(await framework.launch(TEST_MODELS.tiny, "f32"), [{ id: 41, op: "shutdown" }, { id: 42, op: "shutdown" }]);
      expect(replies).toEqual([{ id: 41, ok: true, op: "shutdown" }]);
      expect(exitCode).toBe(0);
    }, TIMEOUT_MS);

    test("end of stdin: exit status 0, nothing more on stdout", async () => {
      const { replies, exitCode } = await runToExit(await framework.launch(TEST_MODELS.tiny, "f32"), []);
      expect(replies).toEqual([]);
      expect(exitCode).toBe(0);
    }, TIMEOUT_MS);

    test("a model that cannot be loaded (a tensor of the wrong shape): one fatal line of kind model naming the tensor, non-zero exit", async () => {
      const { startup, replies, exitCode } = await runToExit(await framework.launch(wrongShapeModel(), "f32"), []);
      expect(FatalMessage.parse(startup)).toMatchObject({ op: "fatal", error: { kind: "model" } });
      expect((startup as { error: { message: string } }).error.message).toMatch(/layers\.\d+\.mlp\.(gate|up|down|gate_up)_proj/);
      expect(replies).toEqual([]);
      expect(exitCode).toBeGreaterThan(0);
    }, TIMEOUT_MS);

    test("a model folder without weights: one fatal line of kind model naming the file, non-zero exit", async () => {
      const { startup, exitCode } = await runToExit(await framework.launch(weightlessModel(), "f32"), []);
      expect(FatalMessage.parse(startup)).toMatchObject({ op: "fatal", error: { kind: "model" } });
      expect((startup as { error: { message: string } }).error.message).toMatch(/safetensors/);
      expect(exitCode).toBeGreaterThan(0);
    }, TIMEOUT_MS);
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
