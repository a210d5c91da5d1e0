import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { replaceAtomically, replaceAtomicallyAsync, writeFileAtomically } from "../harness/atomic-file.ts";

const scratch = () => mkdtempSync(join(tmpdir(), "qwen3-bench-atomic-"));

describe("atomic-file: one way to put a file or folder in place", () => {
  it("a file replaces the old one whole; nothing temporary is left", () => {
    const dir = scratch();
    const path = join(dir, "a.json");
    writeFileSync(path, "old");
    writeFileAtomically(path, "new");
    expect(readFileSync(path, "utf8")).toBe("new");
    expect(readdirSync(dir)).toEqual(["a.json"]);
  });

  it("a fill that throws leaves the old file and no temporary one", () => {
    const dir = scratch();
    const path = join(dir, "a.json");
    writeFileSync(path, "old");
    expect(() => replaceAtomically(path, (temporary) => { writeFileSync(temporary, "half"); throw new Error("disk full"); })).toThrow("disk full");
    expect(readFileSync(path, "utf8")).toBe("old");
    expect(readdirSync(dir)).toEqual(["a.json"]);
  });

  it("async: a folder a tool writes replaces the old folder; the fill's value is returned", async () => {
    const dir = scratch();
    const path = join(dir, "model");
    mkdirSync(path);
    writeFileSync(join(path, "stale.safetensors"), "old");
    const value = await replaceAtomicallyAsync(path, async (temporary) => {
      expect(temporary.endsWith(".partial")).toBe(true);
      mkdirSync(temporary);
      writeFileSync(join(temporary, "model.safetensors"), "new");
      return 42;
    });
    expect(value).toBe(42);
    expect(readdirSync(path)).toEqual(["model.safetensors"]);
    expect(readdirSync(dir)).toEqual(["model"]);
  });

  it("async: a tool that fails half-way leaves no partial folder and nothing at the path", async () => {
    const dir = scratch();
    const path = join(dir, "model");
    await expect(replaceAtomicallyAsync(path, async (temporary) => {
      mkdirSync(temporary);
      writeFileSync(join(temporary, "half.safetensors"), "x");
      throw new Error("mlx_lm convert exited 1");
    })).rejects.toThrow("exited 1");
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});
