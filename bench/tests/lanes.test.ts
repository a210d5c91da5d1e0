import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { splitOutsideBrackets } from "../harness/framework-label.ts";
import { laneResultsDirs, planLanes, runLanes } from "../harness/lanes.ts";
import { resolveVariants } from "../harness/variants.ts";

// No multi-GPU host is lent: these check the lane planning (split, environment, cores, errors) and
// the orchestration of child runs, with a stand-in child command in place of `vitest bench`.
const work = mkdtempSync(join(tmpdir(), "qwen3-bench-lanes-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const plan = (spec: string, over: Partial<Parameters<typeof planLanes>[0]> = {}) =>
  planLanes({ spec, gpuCount: 2, cores: 16, taskset: true, runDir: "/r/run", validateLabels: (labels) => void resolveVariants(labels), ...over });

describe("planLanes", () => {
  test("splits lanes on ';' and labels on ',' outside brackets", () => {
    expect(splitOutsideBrackets("burn-cuda[a=1,b=2], torch", ",")).toEqual(["burn-cuda[a=1,b=2]", "torch"]);
    expect(splitOutsideBrackets("torch;mlx-lm", ";")).toEqual(["torch", "mlx-lm"]);
  });

  test("one lane per GPU, each with its frameworks, GPU, share of the cores and results folder", () => {
    const lanes = plan("torch,burn-cuda;mlx-lm,torch-compile");
    expect(lanes.map((l) => [l.frameworks, l.cpuList])).toEqual([
      [["torch", "burn-cuda"], "0-7"],
      [["mlx-lm", "torch-compile"], "8-15"],
    ]);
    expect(lanes[1].env).toEqual({
      QWEN3_BENCH_LANE: "1",
      BENCH_LANES: "",
      BENCH_FRAMEWORKS: "mlx-lm,torch-compile",
      BENCH_RESULTS_DIR: "/r/run/.gpu1",
      CUDA_VISIBLE_DEVICES: "1",
      CUDA_DEVICE_ORDER: "PCI_BUS_ID",
    });
    // Fewer than 2 cores a lane, or no taskset: lanes are not pinned.
    expect(plan("torch;torch", { cores: 3 }).map((l) => l.cpuList)).toEqual([null, null]);
    expect(plan("torch;torch", { taskset: false }).map((l) => l.cpuList)).toEqual([null, null]);
    // Unknown GPU count (no nvidia-smi): any number of lanes.
    expect(plan("torch;torch;torch", { gpuCount: null })).toHaveLength(3);
  });

  test("bad lanes are one error naming BENCH_LANES and what is wrong", () => {
    expect(() => plan("")).toThrow(/^BENCH_LANES="": no lanes/);
    expect(() => plan("torch;;mlx-lm")).toThrow(/BENCH_LANES="torch;;mlx-lm": lane 1 is empty/);
    expect(() => plan("torch,torch")).toThrow(/lane 0 lists torch twice/);
    expect(() => plan("torch;burn-wgpu")).toThrow(/burn-wgpu is in lane 1: keep it in lane 0 \(Vulkan takes the first GPU/);
    expect(() => plan("torch;mlx-lm;burn-cuda")).toThrow(/3 lanes, but nvidia-smi lists 2 GPUs/);
    expect(() => plan("torch;no-such-runner")).toThrow(/^BENCH_LANES="torch;no-such-runner": .*no-such-runner/);
  });
});

describe("runLanes", () => {
  test("runs every lane's child at once with its environment, keeps its log and moves its results to gpu<i>", async () => {
    const runDir = join(work, "run");
    const lanes = plan("torch;mlx-lm", { runDir, taskset: false });
    // A stand-in for `vitest bench`: writes a results folder as a run would, prints its GPU, and
    // fails in lane 1, so both outcomes are seen.
    const child = [
      process.execPath,
      "-e",
      `const fs = require("fs"), p = require("path");
       const dir = p.join(process.env.BENCH_RESULTS_DIR, "2026-01-01T00-00-00Z");
       fs.mkdirSync(dir, { recursive: true });
       fs.writeFileSync(p.join(dir, process.env.BENCH_FRAMEWORKS + "_results.json"), "{}");
       console.log("gpu " + process.env.CUDA_VISIBLE_DEVICES + " lane " + process.env.QWEN3_BENCH_LANE);
       process.exit(Number(process.env.QWEN3_BENCH_LANE));`,
    ];
    const outcomes = await runLanes(lanes, runDir, child);
    expect(outcomes.map((o) => [o.index, o.exitCode, o.resultsDir])).toEqual([
      [0, 0, join(runDir, "gpu0")],
      [1, 1, join(runDir, "gpu1")],
    ]);
    expect(readFileSync(outcomes[1].log, "utf8")).toBe("gpu 1 lane 1\n");
    expect(existsSync(join(runDir, "gpu1", "mlx-lm_results.json"))).toBe(true);
    expect(existsSync(join(runDir, ".gpu0"))).toBe(false);
    expect(laneResultsDirs(runDir)).toEqual([join(runDir, "gpu0"), join(runDir, "gpu1")]);
  });
});
