import { cpSync, mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { derivedCopyName, pruneStaleCopies } from "../harness/model/derived-cache.ts";
import { TEST_MODELS } from "../harness/prepare.ts";

/** A model folder named `name` inside `parent`: the tiny model's config and a weights file. */
function modelFolder(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  cpSync(join(TEST_MODELS.tiny, "config.json"), join(dir, "config.json"));
  writeFileSync(join(dir, "model.safetensors"), "weights");
  return dir;
}

test("derivedCopyName: the folder's name, a tag of its path, its fingerprint; two checkouts of one model differ by the tag only", () => {
  const root = mkdtempSync(join(tmpdir(), "qwen3-bench-derived-"));
  const a = modelFolder(join(root, "checkout-a"), "qwen3-tiny-f32");
  const b = modelFolder(join(root, "checkout-b"), "qwen3-tiny-f32");
  for (const dir of [a, b]) utimesSync(join(dir, "model.safetensors"), 1_000, 1_000);
  for (const dir of [a, b]) utimesSync(join(dir, "config.json"), 1_000, 1_000);
  const [nameA, nameB] = [derivedCopyName(a), derivedCopyName(b)];
  expect(nameA).toMatch(/^qwen3-tiny-f32-[0-9a-f]{8}-[0-9a-f]{16}$/);
  expect(nameA.slice(-16)).toBe(nameB.slice(-16));
  expect(nameA).not.toBe(nameB);
});

test("pruneStaleCopies: a regenerated model's earlier copies and the old naming go; its current copies, another checkout's and another model's stay", () => {
  const root = mkdtempSync(join(tmpdir(), "qwen3-bench-derived-"));
  const cache = join(root, "cache");
  const model = modelFolder(join(root, "checkout-a"), "qwen3-tiny-f32");
  const before = derivedCopyName(model);
  writeFileSync(join(model, "model.safetensors"), "regenerated weights"); // a new size: a new fingerprint
  const current = derivedCopyName(model);
  expect(current).not.toBe(before);
  const other = derivedCopyName(modelFolder(join(root, "checkout-b"), "qwen3-tiny-f32"));
  const entries = {
    kept: [current, `${current}-affine-q4-g64-f16`, other, `${other}-f16`, "qwen3-tiny-tied-f32-0123456789abcdef", "unrelated"],
    removed: [before, `${before}-affine-q4-g64-f16`, "qwen3-tiny-f32-0123456789abcdef", "qwen3-tiny-f32-0123456789abcdef-f32"],
  };
  for (const name of [...entries.kept, ...entries.removed]) mkdirSync(join(cache, name, "inside"), { recursive: true });
  expect(pruneStaleCopies(cache, model).sort()).toEqual([...entries.removed].sort());
  expect(readdirSync(cache).sort()).toEqual([...entries.kept].sort());
  expect(pruneStaleCopies(join(root, "no-cache-yet"), model)).toEqual([]);
});
