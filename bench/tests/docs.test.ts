import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";

// The user documentation (README.md, docs/, scripts/README.md, runners/*/README.md) stays true to
// the repository: every relative link resolves (to a file, a folder, or a heading of a Markdown
// file), every environment knob settings.ts reads is documented in docs/configuration.md and nothing
// there is a knob settings.ts does not read, and the index of published runs lists exactly the
// folders of docs/results/.

const read = (path: string): string => readFileSync(path, "utf8");

/** Every Markdown file under `dir`, recursively. */
function markdownUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownUnder(path);
    return entry.name.endsWith(".md") ? [path] : [];
  });
}

const RUNNERS = join(REPO_ROOT, "runners");
const DOCS = [
  join(REPO_ROOT, "README.md"),
  join(REPO_ROOT, "scripts", "README.md"),
  ...markdownUnder(join(REPO_ROOT, "docs")),
  ...readdirSync(RUNNERS).map((name) => join(RUNNERS, name, "README.md")).filter(existsSync),
].sort();

/** Markdown with fenced code blocks and inline code spans blanked out (links there are examples, not links). */
const withoutCode = (markdown: string): string => markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");

/** The targets of inline links and images: `[text](target)`, `![alt](target "title")`, `[text](<target>)`. */
function linkTargets(markdown: string): string[] {
  return [...withoutCode(markdown).matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1].replace(/^<|>$/g, ""));
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as '-', repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const m of withoutCode(markdown.replace(/`([^`\n]*)`/g, "$1")).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1].toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    found.add(count === 0 ? base : `${base}-${count}`);
  }
  return found;
}

/** What is wrong with a relative link from `file`, or null when it resolves. */
function brokenLink(file: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // https:, mailto:, ...
  const [pathPart, fragment] = target.split("#", 2);
  const path = pathPart === "" ? file : resolve(dirname(file), decodeURIComponent(pathPart));
  if (!existsSync(path)) return `${target}: no such file`;
  if (fragment && path.endsWith(".md") && statSync(path).isFile() && !anchors(read(path)).has(fragment.toLowerCase())) return `${target}: no heading #${fragment}`;
  return null;
}

describe("documentation links", () => {
  it("README.md, docs/ and the runners' READMEs are there", () => {
    for (const name of ["methodology", "configuration", "gating", "offline-gpu-host", "adding-a-framework"]) expect(DOCS).toContain(join(REPO_ROOT, "docs", `${name}.md`));
    expect(DOCS).toContain(join(RUNNERS, "burn", "README.md"));
  });

  it.each(DOCS.map((file) => [relative(REPO_ROOT, file), file]))("%s: every relative link resolves", (_name, file) => {
    const broken = linkTargets(read(file)).map((target) => brokenLink(file, target)).filter((problem) => problem !== null);
    expect(broken).toEqual([]);
  });

  it("finds links, images and anchors the way GitHub renders them (a check of the checker)", () => {
    const sample = "See [a](docs/a.md#two-words), ![c](x.png \"t\"), [d](<b c.md>), `[not](code.md)`.\n```\n[nor](fence.md)\n```\n## Two words\n## A/B runs\n## A/B runs\n";
    expect(linkTargets(sample)).toEqual(["docs/a.md#two-words", "x.png", "b c.md"]);
    expect([...anchors(sample)]).toEqual(["two-words", "ab-runs", "ab-runs-1"]);
    expect(brokenLink(join(REPO_ROOT, "README.md"), "docs/no-such-file.md")).toMatch(/no such file/);
    expect(brokenLink(join(REPO_ROOT, "README.md"), "docs/methodology.md#no-such-heading")).toMatch(/no heading/);
  });

  it("README.md fits in 200 lines", () => {
    expect(read(join(REPO_ROOT, "README.md")).trimEnd().split("\n").length).toBeLessThanOrEqual(200);
  });
});

describe("docs/configuration.md and settings.ts", () => {
  /**
   * The keys of settings.ts's environment schemas, read from its source: every
   * `const <Name>Env = z.object({ ... });` (`Env`, `LlamaCppEnv`, ...).
   */
  function settingsKnobs(): string[] {
    const source = read(join(REPO_ROOT, "bench", "harness", "settings.ts"));
    const blocks = [...source.matchAll(/^const \w*Env = z\.object\(\{\n([\s\S]*?)\n\}\);/gm)];
    expect(blocks.length, "bench/harness/settings.ts: no `const Env = z.object({ ... });` to read the knobs from").toBeGreaterThan(0);
    return blocks.flatMap((block) => [...block[1].matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*:/gm)].map((m) => m[1]));
  }

  /** Every variable named in the first column of the tables in the "Environment knobs" section. */
  function documentedKnobs(): string[] {
    const doc = read(join(REPO_ROOT, "docs", "configuration.md"));
    const start = doc.indexOf("\n## Environment knobs");
    expect(start, "docs/configuration.md: no section ## Environment knobs").toBeGreaterThanOrEqual(0);
    const end = doc.indexOf("\n## ", start + 1);
    const section = doc.slice(start, end < 0 ? undefined : end);
    const firstCells = section.split("\n").filter((line) => line.startsWith("| `")).map((line) => line.split("|")[1]);
    return firstCells.flatMap((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]));
  }

  it("settings.ts has knobs to check", () => {
    expect(settingsKnobs()).toContain("BENCH_FRAMEWORKS");
    expect(new Set(settingsKnobs()).size, "a knob in two schemas").toBe(settingsKnobs().length);
  });

  it("every knob settings.ts reads is documented under Environment knobs", () => {
    const documented = new Set(documentedKnobs());
    expect(settingsKnobs().filter((knob) => !documented.has(knob))).toEqual([]);
  });

  it("every knob documented under Environment knobs is one settings.ts reads", () => {
    const knobs = new Set(settingsKnobs());
    expect(documentedKnobs().filter((knob) => !knobs.has(knob))).toEqual([]);
  });
});

describe("docs/results/README.md", () => {
  const PUBLISHED = join(REPO_ROOT, "docs", "results");
  const folders = readdirSync(PUBLISHED).filter((name) => statSync(join(PUBLISHED, name)).isDirectory());
  const rows = [...read(join(PUBLISHED, "README.md")).matchAll(/^\| \[([^\]]+)\]\(\1\/NOTES\.md\) \| [^|]+ \| (\d{4}-\d\d-\d\d \d\d:\d\d) \|/gm)].map((m) => ({ run: m[1], at: m[2] }));

  it("lists every run folder once, and only those", () => {
    expect(rows.map((r) => r.run).sort()).toEqual([...folders].sort());
  });

  it("lists them newest first, each on its folder's date", () => {
    expect(rows.map((r) => r.at)).toEqual(rows.map((r) => r.at).sort().reverse());
    for (const { run, at } of rows) expect(run.slice(0, 10), run).toBe(at.slice(0, 10));
  });
});
