/**
 * A framework label as BENCH_FRAMEWORKS names it: `base[flag=value,...]@build`.
 *
 * llama-bench's parameter matrix is the model: a variant (a runner flag, another build) is a column
 * of the same row, so `burn-cuda[decode-graph=off]` and `burn-cpu@head` are run, stored and reported
 * like any framework. This file is the syntax alone (no framework table), so the report can read
 * labels without importing the harness's framework list.
 */
export interface FrameworkLabel {
  /** The registered framework the label varies ("burn-cuda"). */
  base: string;
  /** Runner flags as [name, value] pairs, in the order written. */
  flags: Array<[string, string]>;
  /** Build name after `@` (its runner program comes from BENCH_BIN_<BUILD>), or null for the default build. */
  build: string | null;
}

const NAME = "[a-z0-9][a-z0-9-]*";
const LABEL = new RegExp(`^(${NAME})(?:\\[([^\\]]*)\\])?(?:@(${NAME}))?$`);
const FLAG_NAME = /^[a-z][a-z0-9-]*$/;
/** Flag values stay file-name safe (they end up in results file names). */
const FLAG_VALUE = /^[A-Za-z0-9._+-]+$/;

/** Parses a label; a syntax error names BENCH_FRAMEWORKS and the label. */
export function parseFrameworkLabel(text: string): FrameworkLabel {
  const bad = (why: string) => new Error(`BENCH_FRAMEWORKS: ${JSON.stringify(text)}: ${why} (syntax: name[flag=value,...]@build, e.g. burn-cpu[attention=explicit] or burn-cpu@head)`);
  const match = LABEL.exec(text);
  if (!match) throw bad("not a framework label");
  const [, base, flagText, build] = match;
  const flags: Array<[string, string]> = [];
  if (flagText !== undefined) {
    if (flagText === "") throw bad("empty flag list");
    for (const item of flagText.split(",")) {
      const eq = item.indexOf("=");
      const name = eq < 0 ? item : item.slice(0, eq);
      const value = eq < 0 ? "" : item.slice(eq + 1);
      if (!FLAG_NAME.test(name)) throw bad(`flag ${JSON.stringify(item)}: the name must be lower-case letters, digits and '-'`);
      if (!FLAG_VALUE.test(value)) throw bad(`flag ${JSON.stringify(name)}: expected ${name}=VALUE, VALUE of letters, digits, '.', '_', '+' or '-'`);
      if (flags.some(([n]) => n === name)) throw bad(`flag ${JSON.stringify(name)} given twice`);
      flags.push([name, value]);
    }
  }
  return { base, flags, build: build ?? null };
}

/** The label's text; flags in the given order. */
export function formatFrameworkLabel(label: FrameworkLabel): string {
  const flags = label.flags.length ? `[${label.flags.map(([n, v]) => `${n}=${v}`).join(",")}]` : "";
  return `${label.base}${flags}${label.build === null ? "" : `@${label.build}`}`;
}

/** True when the label is a registered framework as it is (no flags, default build). */
export const isPlainLabel = (label: FrameworkLabel): boolean => label.flags.length === 0 && label.build === null;

/**
 * The label as a file-name stem: brackets are shell glob characters, so `[` and `,` become `.` and
 * `]` goes; `=`, `@`, `-` and `.` are safe in file names on Linux, macOS and Windows.
 * `burn-cuda[decode-graph=off]@head` → `burn-cuda.decode-graph=off@head`.
 */
export const labelFileStem = (label: string): string => label.replace(/[[,]/g, ".").replace(/\]/g, "");

/** True when two labels vary one framework (an A/B run: two builds or settings of it). */
export function hasSharedBase(labels: string[]): boolean {
  const bases = labels.map((l) => parseFrameworkLabel(l).base);
  return new Set(bases).size < bases.length;
}

/** Splits on `sep` outside brackets, trimming each part: `burn-cuda[a=1,b=2],torch` is two labels. */
export function splitOutsideBrackets(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "[") depth++;
    if (ch === "]") depth = Math.max(0, depth - 1);
    if (ch === sep && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}

/** Splits a BENCH_FRAMEWORKS list on the commas outside brackets, dropping empty entries. */
export const splitFrameworkLabels = (list: string): string[] => splitOutsideBrackets(list, ",").filter(Boolean);
