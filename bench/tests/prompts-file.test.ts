// BENCH_PROMPTS: another prompts file, in this project's format or the original benchmark's, with one
// clear error per bad field naming the file.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { PROMPTS_FILE, REPO_ROOT } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { labelToPromptId, loadPromptsFile, selectPrompts } from "../harness/prompts-file.ts";
import { PromptsFile } from "../harness/schema/prompts.ts";
import { readSettings } from "../harness/settings.ts";

const CLI = join(REPO_ROOT, "bench", "cli", "main.ts");
const dir = mkdtempSync(join(tmpdir(), "qwen3-bench-prompts-"));
const defaults = PromptsFile.parse(JSON.parse(readFileSync(PROMPTS_FILE, "utf8")));
let count = 0;
/** Writes `content` (JSON unless a string) to a new file and returns its path. */
function file(content: unknown): string {
  const path = join(dir, `prompts-${count++}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

const original = {
  config: { max_new_tokens: 64, warmup_iterations: 1, timed_iterations: 5, temperature: 0, top_p: 1, model: "Qwen/Qwen3-0.6B" },
  prompts: [
    { label: "Short", system_prompt: "You are terse.", user_message: "Say hi." },
    { label: "Long prompt (code review)", system_prompt: "", user_message: "Review this.", expected_tokens: 30 },
    { label: "no_system", user_message: "Hello?" },
  ],
};

describe("this project's format", () => {
  test("bench/prompts.json itself", () => {
    const loaded = loadPromptsFile(PROMPTS_FILE);
    expect(loaded.format).toBe("qwen3-bench");
    expect(loaded.prompts).toEqual(defaults);
  });

  test("config may be left out: bench/prompts.json's applies", () => {
    const loaded = loadPromptsFile(file({ prompts: [{ id: "mine", system: "", user: "Why?" }] }));
    expect(loaded.prompts.config).toEqual(defaults.config);
    expect(loaded.prompts.prompts).toEqual([{ id: "mine", system: "", user: "Why?" }]);
  });

  test("every bad field is named with the file", () => {
    const path = file({ prompts: [{ id: "Has Spaces", system: "", user: "" }, { id: "ok", system: 3, user: "x" }] });
    expect(() => loadPromptsFile(path)).toThrow(new RegExp(`^${path}: prompts\\.0\\.id: .*; prompts\\.0\\.user: .*; prompts\\.1\\.system: `));
  });
});

describe("the original benchmark's format", () => {
  test("labels become prompt ids, system_prompt and user_message the messages", () => {
    const loaded = loadPromptsFile(file(original));
    expect(loaded.format).toBe("original");
    expect(loaded.prompts.prompts).toEqual([
      { id: "short", system: "You are terse.", user: "Say hi." },
      { id: "long-prompt-code-review", system: "", user: "Review this." },
      { id: "no_system", system: "", user: "Hello?" },
    ]);
  });

  test("config keys with a counterpart set the full profile; the rest is kept from bench/prompts.json and the ignored keys are named", () => {
    const loaded = loadPromptsFile(file(original));
    expect(loaded.prompts.config.profiles.full).toEqual({ ...defaults.config.profiles.full, max_new_tokens: 64, warmup_iterations: 1, timed_iterations: 5 });
    expect(loaded.prompts.config.profiles.quick).toEqual(defaults.config.profiles.quick);
    expect(loaded.prompts.config.agreement).toEqual(defaults.config.agreement);
    expect(loaded.ignoredKeys).toEqual(["config.top_p", "config.model", "prompts.1.expected_tokens"]);
  });

  test("a file without config keeps every profile", () => {
    const loaded = loadPromptsFile(file({ prompts: original.prompts.slice(0, 1) }));
    expect(loaded.prompts.config).toEqual(defaults.config);
  });

  test("labelToPromptId", () => {
    expect(labelToPromptId("Long prompt (code review)")).toBe("long-prompt-code-review");
    expect(labelToPromptId("  Ünïcode—dash  ")).toBe("n-code-dash");
    expect(labelToPromptId("a_b-c")).toBe("a_b-c");
  });

  test("every bad field is named with the file: missing user_message, a label without a usable character, temperature above 0, a fractional count", () => {
    const path = file({
      config: { max_new_tokens: 12.5, temperature: 0.7 },
      prompts: [{ label: "ok", system_prompt: "s" }, { label: "???", user_message: "u" }],
    });
    let message = "";
    try {
      loadPromptsFile(path);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.startsWith(`${path}: `)).toBe(true);
    for (const field of ["config.max_new_tokens: ", "config.temperature: this benchmark decodes greedily", "prompts.0.user_message: ", "prompts.1.label: needs at least one letter"]) expect(message).toContain(field);
  });

  test("a prompt's own id wins over its label: a copy whose ids differ from ours keeps them, so results match the original tools' prompt_id", () => {
    // The original's prompts.json names its prompts by id ("short") and labels them for display
    // ("short-20-input-tokens"); this copy renames the ids so that none equals ours or its label's.
    const copy = {
      ...original,
      prompts: [
        { id: "tiny_q", label: "short-20-input-tokens", system_prompt: "You are terse.", user_message: "Say hi." },
        { id: "essay-9", label: "long-500-input-tokens", system_prompt: "", user_message: "Review this." },
        { label: "No id here", user_message: "Hello?" },
      ],
    };
    const loaded = loadPromptsFile(file(copy));
    expect(loaded.prompts.prompts.map((p) => p.id)).toEqual(["tiny_q", "essay-9", "no-id-here"]);
    expect(loaded.ignoredKeys).not.toContain("prompts.0.id");
    expect(loaded.prompts.prompts.filter((p) => defaults.prompts.some((d) => d.id === p.id))).toEqual([]);
    const bad = file({ prompts: [{ id: "Short Prompt", label: "x", user_message: "a" }] });
    expect(() => loadPromptsFile(bad)).toThrow(new RegExp(`^${bad}: prompts\\.0\\.id: `));
    const twice = file({ prompts: [{ id: "short", label: "A", user_message: "a" }, { label: "Short", user_message: "b" }] });
    expect(() => loadPromptsFile(twice)).toThrow(`${twice}: prompts.1.label: gives the prompt id "short", as prompts.0.id does`);
  });

  test("two labels that give one id", () => {
    const path = file({ prompts: [{ label: "Short", user_message: "a" }, { label: "short!", user_message: "b" }] });
    expect(() => loadPromptsFile(path)).toThrow(`${path}: prompts.1.label: gives the prompt id "short", as prompts.0.label does`);
  });

  test("a file that is not JSON, or missing", () => {
    expect(() => loadPromptsFile(file("{ nope"))).toThrow(/prompts-\d+\.json: is not valid JSON/);
    expect(() => loadPromptsFile(join(dir, "absent.json"))).toThrow(`${join(dir, "absent.json")}: cannot be read (ENOENT)`);
  });
});

describe("BENCH_PROMPTS", () => {
  test("names the prompts file; bench/prompts.json without it", () => {
    expect(readSettings({}).promptsFile).toBe(PROMPTS_FILE);
    expect(readSettings({ BENCH_PROMPTS: "/x/p.json" }).promptsFile).toBe("/x/p.json");
  });

  test("qwen3-bench tokenize takes it: an original-format file gives token ids per label", async () => {
    const result = await execa(process.execPath, [CLI, "tokenize"], { reject: false, env: { BENCH_PROMPTS: file(original), MODEL_PATH: TEST_MODELS.tiny } });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain("ignored, no counterpart here: config.top_p, config.model, prompts.1.expected_tokens");
    const ids = JSON.parse(result.stdout) as Array<{ id: string; prompt_tokens: number }>;
    expect(ids.map((p) => p.id)).toEqual(["short", "long-prompt-code-review", "no_system"]);
    for (const p of ids) expect(p.prompt_tokens).toBeGreaterThan(5);
  });

  test("a bad file: exit 1 and the file and field on stderr", async () => {
    const path = file({ prompts: [{ label: "x", system_prompt: "s" }] });
    const result = await execa(process.execPath, [CLI, "tokenize"], { reject: false, env: { BENCH_PROMPTS: path, MODEL_PATH: TEST_MODELS.tiny } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`${path}: prompts.0.user_message: `);
  });
});

test("a prompt id the file lacks is one error naming the knob that gave it and the file; the ids keep the file's order", () => {
  const prompts = loadPromptsFile(PROMPTS_FILE).prompts.prompts;
  expect(selectPrompts(PROMPTS_FILE, prompts, ["long", "short"], "BENCH_PROMPT_IDS").map((p) => p.id)).toEqual(["short", "long"]);
  expect(selectPrompts(PROMPTS_FILE, prompts, null, "BENCH_PROMPT_IDS")).toEqual(prompts);
  for (const knob of ["BENCH_PROMPT_IDS", "--prompt-id"]) {
    expect(() => selectPrompts(PROMPTS_FILE, prompts, ["short", "shrot"], knob)).toThrow(`${knob}: unknown prompt "shrot" in ${PROMPTS_FILE} (known: short, medium, long)`);
  }
});
