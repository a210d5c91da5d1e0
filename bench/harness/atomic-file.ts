import { randomBytes } from "node:crypto";
import { constants, copyFileSync, renameSync, rmSync, writeFileSync } from "node:fs";

/**
 * Puts a file in place so that no reader ever sees it half-written and writers of the same path never
 * trip on each other: `fill` writes a temporary file of this writer's own (pid and a random suffix, next
 * to `path`, so on the same filesystem), which is then renamed over `path`. rename(2) swaps the name
 * atomically; of several writers, the last to rename wins. The temporary name ends in `.partial`, an
 * extension no model-folder reader (validation, fingerprint) looks at; it is removed when `fill` throws.
 */
export function replaceAtomically<T>(path: string, fill: (temporaryPath: string) => T): T {
  const temporaryPath = `${path}.${process.pid}-${randomBytes(4).toString("hex")}.partial`;
  try {
    const result = fill(temporaryPath);
    renameSync(temporaryPath, path);
    return result;
  } catch (e) {
    rmSync(temporaryPath, { force: true });
    throw e;
  }
}

/** writeFileSync, put in place by replaceAtomically. */
export const writeFileAtomically = (path: string, data: string | Uint8Array): void =>
  replaceAtomically(path, (temporaryPath) => writeFileSync(temporaryPath, data, { flag: "wx" }));

/** copyFileSync, put in place by replaceAtomically. */
export const copyFileAtomically = (source: string, path: string): void =>
  replaceAtomically(path, (temporaryPath) => copyFileSync(source, temporaryPath, constants.COPYFILE_EXCL));
