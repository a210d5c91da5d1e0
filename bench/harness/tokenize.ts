import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { z } from "zod";
import type { Prompt } from "./schema/prompts.ts";
import { InputFileError, parseJsonFile } from "./schema/parse.ts";

const TokenizerConfig = z.looseObject({
  chat_template: z.string().min(1),
  bos_token: z.string().nullable().optional(),
  eos_token: z.string().nullable().optional(),
});

/** A prompt after the chat template and tokenizer: what every runner receives. */
export interface TokenizedPrompt {
  id: string;
  /** The rendered chat-template text (system + user, generation prompt, thinking disabled). */
  text: string;
  promptTokenIds: number[];
  /** Depth case (BENCH_DEPTHS, harness/depth.ts): the KV-cache depth, tokens, at which decode is timed; absent for a plain prompt. */
  depth?: number;
}

/**
 * The model folder's own chat template and tokenizer, applied once in TypeScript so every runner
 * gets identical prompt token ids. Qwen3's template with `enable_thinking: false` appends an empty
 * think block after the generation prompt, as transformers' `apply_chat_template` does.
 */
export class PromptTokenizer {
  private readonly template: Template;
  private readonly tokenizer: Tokenizer;
  private readonly specialTokens: Record<string, unknown>;

  constructor(modelDir: string) {
    const configFile = join(modelDir, "tokenizer_config.json");
    const config = parseJsonFile(configFile, TokenizerConfig);
    const tokenizerFile = join(modelDir, "tokenizer.json");
    let tokenizerJson: object;
    try {
      tokenizerJson = JSON.parse(readFileSync(tokenizerFile, "utf8"));
    } catch (e) {
      throw new InputFileError(tokenizerFile, `cannot be loaded (${(e as Error).message})`);
    }
    this.template = new Template(config.chat_template);
    this.tokenizer = new Tokenizer(tokenizerJson, config);
    this.specialTokens = { bos_token: config.bos_token ?? null, eos_token: config.eos_token ?? null };
  }

  render(prompt: Prompt): string {
    const messages = [
      ...(prompt.system ? [{ role: "system", content: prompt.system }] : []),
      { role: "user", content: prompt.user },
    ];
    return this.template.render({
      messages,
      add_generation_prompt: true,
      enable_thinking: false,
      ...this.specialTokens,
    });
  }

  encode(text: string): number[] {
    // The template already wrote every special token; add none.
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  tokenize(prompt: Prompt): TokenizedPrompt {
    const text = this.render(prompt);
    return { id: prompt.id, text, promptTokenIds: this.encode(text) };
  }

  decode(ids: number[]): string {
    return this.tokenizer.decode(ids, { skip_special_tokens: false });
  }
}
