import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const SOURCE_FILE = /\.(ts|mts|mjs|js)$/;

/** Source files under `root`, recursively (node_modules skipped). */
function sourceFiles(root: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(root)) {
    if (name === "node_modules") continue;
    const path = join(root, name);
    if (statSync(path).isDirectory()) found.push(...sourceFiles(path));
    else if (SOURCE_FILE.test(name) && !name.endsWith(".d.ts")) found.push(path);
  }
  return found;
}

/** Where a relative specifier points, or null for packages and files that do not exist. */
function resolveSpecifier(from: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, join(base, "index.ts")]) if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  return null;
}

/**
 * The import graph of the source files under `root`: file → files it imports. Every kind of
 * import counts (static, `import type`, re-exports, dynamic `import()`), because a type-only
 * cycle is still two modules that cannot be understood one without the other.
 */
export function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(resolve(root))) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = importedFiles.map((f) => resolveSpecifier(file, f.fileName)).filter((t): t is string => t !== null);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/**
 * Every import cycle under `root`, one per strongly connected component (Tarjan), each as a path of
 * files relative to `root` that starts and ends at the same file. Empty when the graph is acyclic.
 */
export function findImportCycles(root: string): string[][] {
  const graph = importGraph(root);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) components.push(component);
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components.map((component) => cyclePath(graph, new Set(component)).map((file) => relative(resolve(root), file)));
}

/** One concrete cycle inside a strongly connected component: breadth-first from its first file back to it. */
function cyclePath(graph: Map<string, string[]>, component: Set<string>): string[] {
  const start = [...component].sort()[0];
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const node = queue.shift()!;
    for (const next of graph.get(node) ?? []) {
      if (!component.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

/**
 * bench/'s layers, lowest first, each a folder prefix under bench/ (the longest matching prefix
 * decides): a module may import from its own layer and the ones below, never from one above.
 * Statistics know nothing of the harness; schemas only of each other; host probing only of schemas;
 * the report reads what the harness wrote; the command line drives both; the bench file and the
 * tests sit on top.
 */
export const LAYERS: Array<{ name: string; prefix: string }> = [
  { name: "stats", prefix: "stats/" },
  { name: "schema", prefix: "harness/schema/" },
  { name: "host", prefix: "harness/host/" },
  { name: "harness", prefix: "harness/" },
  { name: "report", prefix: "report/" },
  { name: "cli", prefix: "cli/" },
  { name: "entry points and tests", prefix: "" },
];

/** Every import under `root` from a lower layer to a higher one, as "importer (layer) → imported (layer)". */
export function findLayerViolations(root: string, layers = LAYERS): string[] {
  const layerOf = (file: string): number => {
    const path = relative(resolve(root), file);
    let best = -1;
    layers.forEach((layer, i) => {
      if (path.startsWith(layer.prefix) && (best === -1 || layer.prefix.length > layers[best].prefix.length)) best = i;
    });
    return best;
  };
  const violations: string[] = [];
  for (const [file, targets] of [...importGraph(root)].sort(([a], [b]) => a.localeCompare(b))) {
    for (const target of targets) {
      const [from, to] = [layerOf(file), layerOf(target)];
      if (to > from) violations.push(`${relative(resolve(root), file)} (${layers[from].name}) → ${relative(resolve(root), target)} (${layers[to].name})`);
    }
  }
  return violations;
}
