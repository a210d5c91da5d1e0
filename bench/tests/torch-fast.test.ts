// torch-fast's two attention bodies (runners/torch/fast_model.py, ATTENTION; the label flag
// `torch-fast[attention=sdpa]`): each gives the reference goldens exactly in f32 on the CPU, and
// decodes after a prefill longer than its 1,024-position chunks as one pass's argmax says. Runs
// where torch is installed (not in CI: several GB).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { depthPrompts } from "../harness/depth.ts";
import { FIXTURES_DIR, PROMPTS_FILE } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { loadPromptsFile } from "../harness/prompts-file.ts";
import { RunnerProcess } from "../harness/runner-process.ts";
import { PromptTokenizer } from "../harness/tokenize.ts";
import { launchVariant, probeVariant, resolveVariants } from "../harness/variants.ts";

const TIMEOUT_MS = 600_000;
const golden = JSON.parse(readFileSync(join(FIXTURES_DIR, "goldens", "qwen3-tiny-f32.json"), "utf8")) as {
  max_new_tokens: number;
  prompts: Record<string, { prompt_token_ids: number[]; token_ids: number[] }>;
};
const labels = ["torch-fast[attention=explicit]", "torch-fast[attention=sdpa]"];
const variants = resolveVariants(labels);
const availability = await probeVariant(variants[0]);

describe.skipIf(!availability.available).each(variants.map((v) => [v.label, v] as const))(`%s on the tiny model, f32, CPU (${availability.reason})`, (label, variant) => {
  test("the golden tokens exactly; the ready notes name the attention body; decode after a 1,500-token prefill equals one pass's argmax", async () => {
    const runner = await RunnerProcess.start(await launchVariant(variant, TEST_MODELS.tiny, "f32"), TIMEOUT_MS);
    try {
      expect(runner.ready.notes.some((n) => n.startsWith(`attention=${variant.flags[0][1]}:`)), runner.ready.notes.join("; ")).toBe(true);
      for (const [id, g] of Object.entries(golden.prompts)) {
        const { reply } = await runner.generate({ prompt_token_ids: g.prompt_token_ids, max_new_tokens: golden.max_new_tokens, ignore_eos: true }, TIMEOUT_MS);
        expect(reply.token_ids, `${label} on ${id}`).toEqual(g.token_ids);
      }
      const short = loadPromptsFile(PROMPTS_FILE).prompts.prompts.find((p) => p.id === "short")!;
      const [deep] = depthPrompts(new PromptTokenizer(TEST_MODELS.tiny), short, [1500]);
      const { reply } = await runner.generate({ prompt_token_ids: deep.promptTokenIds, max_new_tokens: 16, ignore_eos: true }, TIMEOUT_MS);
      const { reply: scored } = await runner.score({ prompt_token_ids: deep.promptTokenIds, continuation_token_ids: reply.token_ids, top_k: 1 }, TIMEOUT_MS);
      expect(scored.argmax_ids).toEqual(reply.token_ids);
    } finally {
      await runner.shutdown();
    }
  }, TIMEOUT_MS);
});
