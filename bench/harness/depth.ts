/**
 * Decode at context depth (BENCH_DEPTHS, llama-bench's `-d`): for each depth d the runner's KV cache
 * is filled with d prompt tokens by the request's prefill, then the profile's new tokens are timed.
 *
 * A depth case's prompt is defined once, here (docs/precision-and-depth.md): the base prompt (the
 * first selected prompt of the prompts file) through the chat template, with the user message
 * extended by bench/depth-text.txt (plain English prose, repeated as often as needed) so that the
 * whole prompt is exactly d tokens. The ids are the concatenation of the template's part up to
 * and including the user message, the filler's ids cut to length, and the template's rest
 * (end of turn, generation prompt, empty think block), each tokenized with the model's own
 * tokenizer; the filler's copies are tokenized one by one, each "\n\n" + the text. Depth 0 is the
 * base prompt as it is.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./paths.ts";
import type { Prompt } from "./schema/prompts.ts";
import type { PromptTokenizer, TokenizedPrompt } from "./tokenize.ts";

/** The prose that extends a depth case's prompt. */
export const DEPTH_TEXT_FILE = join(REPO_ROOT, "bench", "depth-text.txt");

/** BENCH_DEPTHS ("0,4096,16384") as distinct depths in ascending order; one error naming the knob otherwise. */
export function parseDepths(text: string): number[] {
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new Error(`BENCH_DEPTHS: ${JSON.stringify(text)}: expected comma-separated token counts, e.g. 0,4096,16384,32768`);
  const depths = items.map((item) => {
    if (!/^\d+$/.test(item)) throw new Error(`BENCH_DEPTHS: ${JSON.stringify(item)} is not a whole number of tokens (e.g. 0,4096,16384,32768)`);
    return Number(item);
  });
  return [...new Set(depths)].sort((a, b) => a - b);
}

/** The prompt id of a depth case: `short-d4096`. */
export const depthPromptId = (baseId: string, depth: number): string => `${baseId}-d${depth}`;

/** Token ids of the filler, at least `count` of them: copies of "\n\n" + text, each tokenized on its own. */
function fillerIds(tokenizer: PromptTokenizer, text: string, count: number): number[] {
  const copy = tokenizer.encode(`\n\n${text.trim()}`);
  if (copy.length === 0) throw new Error(`${DEPTH_TEXT_FILE}: empty`);
  const ids: number[] = [];
  while (ids.length < count) ids.push(...copy);
  return ids.slice(0, count);
}

/**
 * The depth-d case of `base`: exactly d prompt ids (d = 0: the base prompt as it is). A depth
 * below the base prompt's own length cannot be reached and is an error naming BENCH_DEPTHS.
 */
export function depthPrompt(tokenizer: PromptTokenizer, base: Prompt, depth: number, fillerText: string): TokenizedPrompt & { depth: number } {
  const plain = tokenizer.tokenize(base);
  const id = depthPromptId(base.id, depth);
  if (depth === 0) return { ...plain, id, depth };
  const baseTokens = plain.promptTokenIds.length;
  if (depth < baseTokens) throw new Error(`BENCH_DEPTHS: depth ${depth} is below the ${baseTokens} tokens of the base prompt ${JSON.stringify(base.id)}; use 0 (the prompt as it is) or at least ${baseTokens}`);
  const end = plain.text.lastIndexOf(base.user) + base.user.length;
  if (end < base.user.length) throw new Error(`the chat template's output does not contain prompt ${JSON.stringify(base.id)}'s user message as written; a depth prompt cannot be built from it`);
  const head = tokenizer.encode(plain.text.slice(0, end));
  const tail = tokenizer.encode(plain.text.slice(end));
  const needed = depth - head.length - tail.length;
  const promptTokenIds = [...head, ...fillerIds(tokenizer, fillerText, Math.max(0, needed)), ...tail];
  if (promptTokenIds.length !== depth) throw new Error(`BENCH_DEPTHS: depth ${depth} cannot be built from prompt ${JSON.stringify(base.id)} (its template parts alone are ${head.length + tail.length} tokens); use a larger depth`);
  return { id, text: tokenizer.decode(promptTokenIds), promptTokenIds, depth };
}

/** Every depth case of `base`, in ascending depth, with the filler read from bench/depth-text.txt. */
export function depthPrompts(tokenizer: PromptTokenizer, base: Prompt, depths: number[], fillerFile = DEPTH_TEXT_FILE): Array<TokenizedPrompt & { depth: number }> {
  const fillerText = readFileSync(fillerFile, "utf8");
  return depths.map((d) => depthPrompt(tokenizer, base, d, fillerText));
}

/** The depth of a depth case's prompt id (`short-d4096` → 4096), or null for any other id. */
export function depthOfPromptId(id: string): number | null {
  const match = DEPTH_SUFFIX.exec(id);
  return match ? Number(match[1]) : null;
}

/** The base prompt of a depth case's prompt id (`short-d4096` → `short`); any other id as it is. */
export const baseOfPromptId = (id: string): string => id.replace(DEPTH_SUFFIX, "");

/** What depthPromptId appends to the base prompt's id. */
const DEPTH_SUFFIX = /-d(\d+)$/;
