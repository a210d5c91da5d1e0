import { readdirSync, readFileSync } from "node:fs";
import { tryOutput } from "../command.ts";

/**
 * The pid and every descendant of it. A runner may be a wrapper (a chroot launcher, `uv run`) whose
 * child does the work, so memory is counted over the whole tree. Linux reads /proc; elsewhere `ps`.
 */
export async function processTree(rootPid: number): Promise<number[]> {
  const parents = process.platform === "linux" ? procParents() : await psParents();
  return descendants(rootPid, parents);
}

/** Pure: root and its descendants from a pid → parent-pid map, root first. */
export function descendants(rootPid: number, parentOf: Map<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parentOf) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const tree: number[] = [];
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.shift()!;
    if (tree.includes(pid)) continue;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

function procParents(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // The process ended between readdir and read.
    }
  }
  return parents;
}

async function psParents(): Promise<Map<number, number>> {
  const stdout = (await tryOutput("ps", ["-A", "-o", "pid=,ppid="], undefined, { timeoutMs: 10_000 })) ?? "";
  const parents = new Map<number, number>();
  for (const line of stdout.split("\n")) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (Number.isInteger(pid) && Number.isInteger(ppid)) parents.set(pid, ppid);
  }
  return parents;
}
