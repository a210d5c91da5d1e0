import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./paths.ts";

/** package.json's version: the same for every commit, so results record the commit beside it (harnessVersion). */
export const PACKAGE_VERSION: string = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).version;

/**
 * The version a results file's harness_version records: "0.1.0+1a2b3c4" (git describe, "-dirty" when
 * the checkout had changes), plain "0.1.0" when the commit is unknown.
 */
export function harnessVersion(commit: string | null): string {
  return commit ? `${PACKAGE_VERSION}+${commit}` : PACKAGE_VERSION;
}
