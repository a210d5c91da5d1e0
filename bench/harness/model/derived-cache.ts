import { createHash } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { modelFingerprint } from "./fingerprint.ts";

/**
 * Copies the harness derives from a model folder (GGUFs, MLX conversions) are cached in folders
 * named `<model folder>-<path tag>-<fingerprint>[-<variant>]`: the folder's name, 8 hex digits of its
 * absolute path, and its fingerprint (model/fingerprint.ts: config bytes, file sizes and times).
 * A regenerated or edited model gets a new fingerprint, so without pruning every fresh clone (the
 * test models are generated anew) left a full set of copies behind: 170 MB a tiny model, 1.2 GB the
 * 0.6B one, on every CI run of a machine that keeps its cache. The path tag keeps two checkouts'
 * copies apart, so that each prunes only its own.
 */
export function derivedCopyName(modelDir: string): string {
  const dir = resolve(modelDir);
  return `${sourcePrefix(dir)}${modelFingerprint(dir)}`;
}

/** `<model folder>-<path tag>-`: what every copy of this folder's states is named after. */
const sourcePrefix = (dir: string): string => `${basename(dir)}-${createHash("sha256").update(dir).digest("hex").slice(0, 8)}-`;

/**
 * Removes the entries of `root` made from `modelDir` as it was before (same name and path tag,
 * another fingerprint), and entries named the way this cache named them before path tags
 * (`<model folder>-<fingerprint>…`). Called when a new copy is made, never on a cache hit.
 * Returns the names removed.
 */
export function pruneStaleCopies(root: string, modelDir: string): string[] {
  if (!existsSync(root)) return [];
  const current = derivedCopyName(modelDir);
  const dir = resolve(modelDir);
  const sameSource = sourcePrefix(dir);
  const legacy = new RegExp(`^${escapeRegExp(basename(dir))}-[0-9a-f]{16}(?:-|$)`);
  const stale = readdirSync(root).filter((name) => (name.startsWith(sameSource) && !isEntryOf(name, current)) || legacy.test(name));
  for (const name of stale) rmSync(join(root, name), { recursive: true, force: true });
  return stale;
}

/** True when `name` is `current` or one of its variants (`current-affine-q4-g64-f16`). */
const isEntryOf = (name: string, current: string): boolean => name === current || name.startsWith(`${current}-`);

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
