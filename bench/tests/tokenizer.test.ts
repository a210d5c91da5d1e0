// The prompt token ids every runner receives must equal Hugging Face transformers'
// apply_chat_template ids (fixtures/prompt_token_ids.json, made by fixtures/make_prompt_token_ids.py).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { FIXTURES_DIR, PROMPTS_FILE } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { parseJsonFile } from "../harness/schema/parse.ts";
import { PromptsFile } from "../harness/schema/prompts.ts";
import { PromptTokenizer } from "../harness/tokenize.ts";

const fixture = JSON.parse(readFileSync(join(FIXTURES_DIR, "prompt_token_ids.json"), "utf8")) as {
  prompts: Record<string, { text: string; prompt_token_ids: number[] }>;
};
const prompts = parseJsonFile(PROMPTS_FILE, PromptsFile).prompts;
const tokenizer = new PromptTokenizer(TEST_MODELS.tiny);

describe("chat template and tokenizer match transformers' apply_chat_template", () => {
  test("the fixture covers every prompt", () => {
    expect(Object.keys(fixture.prompts).sort()).toEqual(prompts.map((p) => p.id).sort());
  });

  for (const prompt of prompts) {
    test(`${prompt.id}: same text and same ids`, () => {
      const mine = tokenizer.tokenize(prompt);
      expect(mine.text).toBe(fixture.prompts[prompt.id].text);
      expect(mine.promptTokenIds).toEqual(fixture.prompts[prompt.id].prompt_token_ids);
    });
  }

  test("prompt lengths are about 20, 100 and 500 tokens", () => {
    const lengths = Object.fromEntries(prompts.map((p) => [p.id, tokenizer.tokenize(p).promptTokenIds.length]));
    expect(lengths.short).toBeGreaterThanOrEqual(15);
    expect(lengths.short).toBeLessThanOrEqual(35);
    expect(lengths.medium).toBeGreaterThanOrEqual(80);
    expect(lengths.medium).toBeLessThanOrEqual(130);
    expect(lengths.long).toBeGreaterThanOrEqual(450);
    expect(lengths.long).toBeLessThanOrEqual(600);
  });

  test("the generation prompt ends with an empty think block (thinking disabled)", () => {
    expect(tokenizer.render(prompts[0]).endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n")).toBe(true);
  });
});
