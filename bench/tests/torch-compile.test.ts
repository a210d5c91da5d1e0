// The torch-compile runner's decode path (transformers generate() with a static cache, EOS off,
// tokens timed by a streamer) must give the reference goldens. On CPU transformers does not
// compile, so this checks everything but torch.compile itself; runs where torch is installed.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { frameworkByName } from "../harness/frameworks.ts";
import { FIXTURES_DIR } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { RunnerProcess } from "../harness/runner-process.ts";

const TIMEOUT_MS = 120_000;
const torch = frameworkByName("torch");
const probe = await torch.probe();
const golden = JSON.parse(readFileSync(join(FIXTURES_DIR, "goldens", "qwen3-tiny-f32.json"), "utf8")) as {
  max_new_tokens: number;
  prompts: Record<string, { prompt_token_ids: number[]; token_ids: number[] }>;
};

describe.skipIf(!probe.available)(`torch-compile's generate() path on CPU (${probe.reason})`, () => {
  let runner: RunnerProcess;
  beforeAll(async () => {
    const spec = await torch.launch(TEST_MODELS.tiny, "f32");
    const args = [...spec.args.slice(0, spec.args.indexOf("--variant")), "--variant", "compile"];
    runner = await RunnerProcess.start({ ...spec, framework: "torch-compile", args, env: { QWEN3_BENCH_TEST_COMPILE_VARIANT_ON_CPU: "1" } }, TIMEOUT_MS);
  }, TIMEOUT_MS);
  afterAll(() => runner?.shutdown());

  test("ready says torch-compile", () => {
    expect(runner.ready.framework).toBe("torch-compile");
  });

  test.each(Object.keys(golden.prompts))("%s: exactly the golden tokens, one non-decreasing time each", async (promptId) => {
    const g = golden.prompts[promptId];
    const { reply } = await runner.generate({ prompt_token_ids: g.prompt_token_ids, max_new_tokens: golden.max_new_tokens, ignore_eos: true }, TIMEOUT_MS);
    expect(reply.token_ids).toEqual(g.token_ids);
    expect(reply.token_times_ns).toHaveLength(golden.max_new_tokens);
    for (let i = 1; i < reply.token_times_ns.length; i++) expect(reply.token_times_ns[i]).toBeGreaterThanOrEqual(reply.token_times_ns[i - 1]);
  });

  test("EOS is ignored even where the checkpoint's EOS comes up: all of max_new_tokens, the golden tokens", async () => {
    // A copy whose config.json names the 4th golden token of a prompt as EOS, as a real checkpoint's EOS would come up.
    const [promptId, g] = Object.entries(golden.prompts)[0];
    const copy = mkdtempSync(join(tmpdir(), "qwen3-bench-eos-"));
    cpSync(TEST_MODELS.tiny, copy, { recursive: true });
    const config = JSON.parse(readFileSync(join(copy, "config.json"), "utf8"));
    writeFileSync(join(copy, "config.json"), JSON.stringify({ ...config, eos_token_id: g.token_ids[3] }));
    const spec = await torch.launch(copy, "f32");
    const args = [...spec.args.slice(0, spec.args.indexOf("--variant")), "--variant", "compile"];
    const eosRunner = await RunnerProcess.start({ ...spec, framework: "torch-compile", args, env: { QWEN3_BENCH_TEST_COMPILE_VARIANT_ON_CPU: "1" } }, TIMEOUT_MS);
    try {
      const { reply } = await eosRunner.generate({ prompt_token_ids: g.prompt_token_ids, max_new_tokens: golden.max_new_tokens, ignore_eos: true }, TIMEOUT_MS);
      expect(reply.token_ids, promptId).toEqual(g.token_ids);
    } finally {
      await eosRunner.shutdown();
    }
  }, TIMEOUT_MS);
});
