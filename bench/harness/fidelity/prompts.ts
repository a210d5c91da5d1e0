import { loadPromptsFile } from "../prompts-file.ts";
import { PromptTokenizer } from "../tokenize.ts";
import type { ToolPrompt } from "./tool.ts";

/**
 * The prompts the tools decode after: the harness's from a prompts file (all, or those of `ids`),
 * tokenized as every runner gets them; or, given lengths, the ids 0..P−1 for each length P.
 */
export function toolPrompts(modelDir: string, file: string, pick: { ids?: string[]; lengths?: number[] }): ToolPrompt[] {
  if (pick.lengths) return pick.lengths.map((n) => ({ id: `p${n}`, ids: [...Array(n).keys()] }));
  const prompts = loadPromptsFile(file).prompts.prompts;
  const wanted = pick.ids ?? prompts.map((p) => p.id);
  const unknown = wanted.filter((id) => !prompts.some((p) => p.id === id));
  if (unknown.length) throw new Error(`--prompt-ids: ${unknown.join(", ")} not in ${file} (has: ${prompts.map((p) => p.id).join(", ")})`);
  const tokenizer = new PromptTokenizer(modelDir);
  return prompts.filter((p) => wanted.includes(p.id)).map((p) => ({ id: p.id, ids: tokenizer.tokenize(p).promptTokenIds }));
}
