import { loadPromptsFile } from "../harness/prompts-file.ts";
import { tokenizerFolder } from "../harness/prepare.ts";
import { readSettings } from "../harness/settings.ts";
import { PromptTokenizer } from "../harness/tokenize.ts";

/**
 * `qwen3-bench tokenize [PROMPTS_FILE]`: the prompt token ids every runner receives, as JSON. The
 * file defaults to BENCH_PROMPTS, else bench/prompts.json; either prompts format is accepted.
 */
export async function tokenizeCommand(argv: string[]): Promise<void> {
  const settings = readSettings();
  const loaded = loadPromptsFile(argv[0] ?? settings.promptsFile);
  if (loaded.ignoredKeys.length) process.stderr.write(`${loaded.file}: ignored, no counterpart here: ${loaded.ignoredKeys.join(", ")}\n`);
  const prompts = loaded.prompts.prompts;
  const tokenizer = new PromptTokenizer(await tokenizerFolder(settings));
  const out = prompts.map((p) => {
    const t = tokenizer.tokenize(p);
    return { id: t.id, prompt_tokens: t.promptTokenIds.length, prompt_token_ids: t.promptTokenIds };
  });
  console.log(JSON.stringify(out, null, 1));
}
