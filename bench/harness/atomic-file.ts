import { randomBytes } from "node:crypto";
import { constants, copyFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";

/**
 * Puts a file in place so that no reader ever sees it half-written and writers of the same path never
 * trip on each other: `fill` writes a temporary file of this writer's own (pid and a random suffix, next
 * to `path`, so on the same filesystem), which is then renamed over `path`. rename(2) swaps the name
 * atomically; of several writers, the last to rename wins. The temporary name ends in `.partial`, an
 * extension no model-folder reader (validation, fingerprint) looks at; it is removed when `fill` throws.
 */
export function replaceAtomically<T>(path: string, fill: (temporaryPath: string) => T): T {
  const temporaryPath = temporaryPathFor(path);
  try {
    return putInPlace(temporaryPath, path, fill(temporaryPath));
  } catch (e) {
    return discard(temporaryPath, e);
  }
}

/**
 * replaceAtomically for a fill that takes a while (a converter writing a file or a folder), with the
 * same temporary name, rename and clean-up. A folder cannot be renamed over one that has files: an
 * existing folder at `path` is removed just before the rename (a reader then finds it missing, never
 * half-written).
 */
export async function replaceAtomicallyAsync<T>(path: string, fill: (temporaryPath: string) => Promise<T>): Promise<T> {
  const temporaryPath = temporaryPathFor(path);
  try {
    return putInPlace(temporaryPath, path, await fill(temporaryPath));
  } catch (e) {
    return discard(temporaryPath, e);
  }
}

const temporaryPathFor = (path: string): string => `${path}.${process.pid}-${randomBytes(4).toString("hex")}.partial`;

/** Renames the filled temporary file or folder over `path`; returns what the fill returned. */
function putInPlace<T>(temporaryPath: string, path: string, result: T): T {
  if (statSync(temporaryPath).isDirectory()) rmSync(path, { recursive: true, force: true });
  renameSync(temporaryPath, path);
  return result;
}

/** Removes what a failed fill left and throws its error on. */
function discard(temporaryPath: string, error: unknown): never {
  rmSync(temporaryPath, { recursive: true, force: true });
  throw error;
}

/** writeFileSync, put in place by replaceAtomically. */
export const writeFileAtomically = (path: string, data: string | Uint8Array): void =>
  replaceAtomically(path, (temporaryPath) => writeFileSync(temporaryPath, data, { flag: "wx" }));

/** copyFileSync, put in place by replaceAtomically. */
export const copyFileAtomically = (source: string, path: string): void =>
  replaceAtomically(path, (temporaryPath) => copyFileSync(source, temporaryPath, constants.COPYFILE_EXCL));
