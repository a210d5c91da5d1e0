import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A model folder made to be thrown away (a test's broken copy of the tiny model) says so with this
 * file, written by whoever makes the copy: what the harness derives from it (GGUFs) then stays inside
 * it and goes with it, instead of filling the shared cache. Where a folder lies says nothing about
 * this (a checkout may live under /tmp). No fingerprinted extension, so it leaves modelFingerprint as is.
 */
export const TEMPORARY_COPY_MARKER = ".qwen3-bench-temporary-copy";

/** Marks `modelDir` as a temporary copy. */
export function markTemporaryCopy(modelDir: string): void {
  writeFileSync(join(modelDir, TEMPORARY_COPY_MARKER), "A temporary model copy: files derived from it stay in this folder.\n");
}

/** True when `modelDir` was marked as a temporary copy. */
export const isTemporaryCopy = (modelDir: string): boolean => existsSync(join(modelDir, TEMPORARY_COPY_MARKER));
