// host/nvidia.ts is the harness's only caller of nvidia-smi: one query, one follow loop. This machine
// may have no NVIDIA GPU, so a stand-in nvidia-smi on PATH prints what the real one prints for the
// arguments it gets, and the module is checked for what it asks and how it reads the answers.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { followNvidia, listNvidiaGpus, nvidiaQuery } from "../harness/host/nvidia.ts";
import { REPO_ROOT } from "../harness/paths.ts";

const bin = mkdtempSync(join(tmpdir(), "qwen3-bench-nvidia-smi-"));
afterAll(() => rmSync(bin, { recursive: true, force: true }));
// Arguments are logged; -L lists two GPUs; a query answers per its fields; -lms repeats it.
writeFileSync(
  join(bin, "nvidia-smi"),
  `#!/bin/sh
echo "$*" >> "${join(bin, "calls.log")}"
case "$*" in
  -L) printf 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-2)\\n' ;;
  *--query-compute-apps=pid,used_memory*) printf '123, 1500\\n456, 700\\n' ;;
  *-lms*) for i in 1 2 3; do echo "$i"0.5; sleep 0.05; done ;;
  *--query-gpu=name,driver_version*) printf 'NVIDIA H100 80GB HBM3, 580.159.04\\nNVIDIA H100 PCIe, 570.133.20\\n' ;;
  *) exit 6 ;;
esac
`,
);
chmodSync(join(bin, "nvidia-smi"), 0o755);
process.env.PATH = `${bin}:${process.env.PATH}`;

describe("host/nvidia.ts", () => {
  test("one query: CSV rows without header or units, per GPU or per process; null when nvidia-smi fails", async () => {
    expect(await nvidiaQuery({ gpu: ["name", "driver_version"] })).toEqual([
      ["NVIDIA H100 80GB HBM3", "580.159.04"],
      ["NVIDIA H100 PCIe", "570.133.20"],
    ]);
    expect(await nvidiaQuery({ computeApps: ["pid", "used_memory"] })).toEqual([
      ["123", "1500"],
      ["456", "700"],
    ]);
    expect(await nvidiaQuery({ gpu: ["unknown.field"], gpuIndex: 1 })).toBeNull();
    expect(await listNvidiaGpus()).toHaveLength(2);
  });

  test("one follow loop: a line per reading as it comes, -lms with the interval, one GPU with -i", async () => {
    const lines: string[] = [];
    const follow = await followNvidia({ gpu: ["power.draw"], gpuIndex: 1 }, 50, (line) => lines.push(line));
    await follow.exited;
    expect(lines).toEqual(["10.5", "20.5", "30.5"]);
    const calls = readFileSync(join(bin, "calls.log"), "utf8").split("\n");
    expect(calls).toContain("--query-gpu=power.draw --format=csv,noheader,nounits -i 1 -lms 50");
    expect(calls).toContain("--query-gpu=unknown.field --format=csv,noheader,nounits -i 1");
  });
});

/** Every source under `dir` (tests left out) with the string "nvidia-smi" alone in its code (not its comments). */
function nvidiaSmiCallers(dir: string, root = dir): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === "tests" || name === "node_modules" ? [] : nvidiaSmiCallers(path, root);
      if (!/\.(ts|mts|mjs|js)$/.test(name)) return [];
      return readFileSync(path, "utf8")
        .split("\n")
        .flatMap((line) => {
          const code = /^\s*(\/\/|\/?\*)/.test(line) ? "" : line.replace(/\/\/.*$/, "");
          return /["'`]nvidia-smi["'`]/.test(code) ? [relative(root, path)] : [];
        })
        .slice(0, 1);
    });
}

test("bench/ starts nvidia-smi only in host/nvidia.ts", () => {
  // hw-info.ts names it as a source of hw_info.json, answered by nvidiaQuery; a new file here is a new caller to look at.
  expect(nvidiaSmiCallers(join(REPO_ROOT, "bench"))).toEqual(["harness/host/hw-info.ts", "harness/host/nvidia.ts"]);
});
