import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** Every file under `path` (itself where it is a file), each folder's entries in sorted order; none where it does not exist. */
export function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).sort().flatMap((name) => filesUnder(join(path, name)));
}

/**
 * A build's key: sha256 (hex) of `settings` as JSON, then of every file under `inputs` (paths in
 * `dir`) by its path relative to `dir` and its contents. Equal keys build equal outputs, so a key
 * that matches the build's stamp skips the build.
 */
export function buildKey(dir: string, inputs: string[], settings: unknown): string {
  const hash = createHash("sha256").update(JSON.stringify(settings));
  for (const file of inputs.flatMap((input) => filesUnder(join(dir, input)))) {
    hash.update(`\0${relative(dir, file)}\0`).update(readFileSync(file));
  }
  return hash.digest("hex");
}
