import { PROMPTS_FILE } from "../harness/paths.ts";
import { parseJsonFile } from "../harness/schema/parse.ts";
import { PromptsFile } from "../harness/schema/prompts.ts";
import { readSettings } from "../harness/settings.ts";
import { PromptTokenizer } from "../harness/tokenize.ts";

/** `qwen3-bench tokenize [PROMPTS_FILE]`: the prompt token ids every runner receives, as JSON. */
export function tokenizeCommand(argv: string[]): void {
  const file = argv[0] ?? PROMPTS_FILE;
  const prompts = parseJsonFile(file, PromptsFile).prompts;
  const tokenizer = new PromptTokenizer(readSettings().modelDir);
  const out = prompts.map((p) => {
    const t = tokenizer.tokenize(p);
    return { id: t.id, prompt_tokens: t.promptTokenIds.length, prompt_token_ids: t.promptTokenIds };
  });
  console.log(JSON.stringify(out, null, 1));
}
