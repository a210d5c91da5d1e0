// Lanes: one harness run per GPU, side by side, and one report over them (BENCH_LANES). A host with
// several GPUs measures in parallel what one GPU would measure in turn; each lane is a whole `vitest
// bench` of its own (warm-up, timing, agreement with the reference when the lane lists it), pinned to
// its GPU (CUDA_VISIBLE_DEVICES) and to its share of the cores, so that one lane's compiling
// (torch.compile, NVRTC) cannot take the cores another lane's host-bound runner is timed on.
import { createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { splitOutsideBrackets } from "./framework-label.ts";
import { followNvidia } from "./host/nvidia.ts";
import { processEnvironment } from "./settings.ts";

/** Environment variable a lane's child run carries: its lane index (and it never splits again). */
export const LANE_ENV = "QWEN3_BENCH_LANE";

/** One lane: what it runs, where, and the environment of its child run. */
export interface LanePlan {
  /** 0-based; also the GPU index it runs on (PCI bus order). */
  index: number;
  /** Framework labels, in run order. */
  frameworks: string[];
  /** Cores it is pinned to, as taskset's list ("0-7"), or null to leave it unpinned. */
  cpuList: string | null;
  /** Environment on top of the parent's. */
  env: Record<string, string>;
  /** Folder of its results (a results/<timestamp>/ folder of its own is made inside), then renamed to `gpu<index>`. */
  resultsRoot: string;
}


/**
 * Plans the lanes of BENCH_LANES ("fw,fw;fw,fw": lane i runs its frameworks on GPU i). Throws one
 * error naming BENCH_LANES for an empty lane, a label twice in a lane, more lanes than GPUs, or
 * burn-wgpu outside lane 0 (Vulkan takes the first GPU whatever CUDA_VISIBLE_DEVICES says);
 * `validateLabels` throws for an unknown framework or flag (the harness passes resolveVariants).
 */
export function planLanes(args: {
  spec: string;
  /** GPUs nvidia-smi lists, or null where unknown (then any number of lanes is allowed). */
  gpuCount: number | null;
  /** Cores of the host (each lane gets an equal share when that share is at least 2). */
  cores: number;
  /** Whether taskset exists to pin lanes. */
  taskset: boolean;
  /** The run's results folder: lane i writes under `<runDir>/.gpu<i>`. */
  runDir: string;
  validateLabels: (labels: string[]) => void;
}): LanePlan[] {
  const bad = (why: string) => new Error(`BENCH_LANES=${JSON.stringify(args.spec)}: ${why} (syntax: "fw,fw;fw,fw", lane i on GPU i)`);
  const lanes = splitOutsideBrackets(args.spec, ";").map((lane) => splitOutsideBrackets(lane, ",").filter(Boolean));
  if (lanes.length === 1 && lanes[0].length === 0) throw bad("no lanes");
  lanes.forEach((lane, i) => {
    if (lane.length === 0) throw bad(`lane ${i} is empty`);
    const twice = lane.find((label, j) => lane.indexOf(label) !== j);
    if (twice) throw bad(`lane ${i} lists ${twice} twice`);
    if (i > 0 && lane.some((label) => label === "burn-wgpu" || label.startsWith("burn-wgpu[") || label.startsWith("burn-wgpu@"))) {
      throw bad(`burn-wgpu is in lane ${i}: keep it in lane 0 (Vulkan takes the first GPU whatever CUDA_VISIBLE_DEVICES says)`);
    }
  });
  if (args.gpuCount !== null && lanes.length > args.gpuCount) throw bad(`${lanes.length} lanes, but nvidia-smi lists ${args.gpuCount} GPU${args.gpuCount === 1 ? "" : "s"}`);
  try {
    args.validateLabels([...new Set(lanes.flat())]);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const share = Math.floor(args.cores / lanes.length);
  return lanes.map((frameworks, index) => {
    const resultsRoot = join(args.runDir, `.gpu${index}`);
    return {
      index,
      frameworks,
      cpuList: args.taskset && share >= 2 ? `${index * share}-${index * share + share - 1}` : null,
      env: {
        [LANE_ENV]: String(index),
        BENCH_LANES: "",
        BENCH_FRAMEWORKS: frameworks.join(","),
        BENCH_RESULTS_DIR: resultsRoot,
        CUDA_VISIBLE_DEVICES: String(index),
        CUDA_DEVICE_ORDER: "PCI_BUS_ID",
      },
      resultsRoot,
    };
  });
}

/** How a lane's child run ended. */
export interface LaneOutcome {
  index: number;
  frameworks: string[];
  /** Exit status of its `vitest bench` (non-zero when a case failed). */
  exitCode: number;
  /** Path of its log file (stdout and stderr). */
  log: string;
  /** Its results folder (`<runDir>/gpu<i>`), or null when it wrote none. */
  resultsDir: string | null;
}

/**
 * Runs every lane's child at once (`command` with the lane's environment, under taskset when pinned)
 * and waits for all; each child's results/<timestamp>/ folder becomes `<runDir>/gpu<i>`.
 */
export async function runLanes(lanes: LanePlan[], runDir: string, command: string[]): Promise<LaneOutcome[]> {
  return Promise.all(
    lanes.map(async (lane) => {
      mkdirSync(lane.resultsRoot, { recursive: true });
      const log = join(runDir, `gpu${lane.index}.log`);
      const [program, ...rest] = lane.cpuList ? ["taskset", "-c", lane.cpuList, ...command] : command;
      process.stderr.write(`qwen3-bench: lane gpu${lane.index} (${lane.frameworks.join(", ")}) on cores ${lane.cpuList ?? "all"}: log ${log}\n`);
      const out = createWriteStream(log);
      const child = execa(program, rest, { env: { ...processEnvironment(), ...lane.env }, reject: false, all: true, buffer: false });
      child.all?.pipe(out);
      const result = await child;
      await new Promise((done) => out.end(done));
      return { index: lane.index, frameworks: lane.frameworks, exitCode: result.exitCode ?? 1, log, resultsDir: collectLaneResults(lane, runDir) };
    }),
  );
}

/** Moves the lane's results/<timestamp>/ folder to `<runDir>/gpu<i>`; null when it made none. */
function collectLaneResults(lane: LanePlan, runDir: string): string | null {
  const runs = existsSync(lane.resultsRoot) ? readdirSync(lane.resultsRoot).filter((f) => /^\d{4}-/.test(f)).sort() : [];
  if (!runs.length) return null;
  const target = join(runDir, `gpu${lane.index}`);
  renameSync(join(lane.resultsRoot, runs[runs.length - 1]), target);
  rmSync(lane.resultsRoot, { recursive: true, force: true });
  return target;
}

/** Logs every GPU's utilisation, memory and power every 5 s to `<runDir>/gpus.csv` (shows where each lane ran); a no-op without nvidia-smi. */
export function startGpuLog(runDir: string): () => void {
  const out = createWriteStream(join(runDir, "gpus.csv"));
  const following = followNvidia({ gpu: ["timestamp", "index", "pci.bus_id", "utilization.gpu", "memory.used", "power.draw"] }, 5000, (line) => out.write(`${line}\n`), { csv: true });
  return () =>
    void following.then((f) => {
      f.stop();
      out.end();
    });
}

/** The lanes' results folders inside a run folder (`gpu0`, `gpu1`, ...), in lane order. */
export function laneResultsDirs(runDir: string): string[] {
  if (!existsSync(runDir)) return [];
  return readdirSync(runDir)
    .filter((f) => /^gpu\d+$/.test(f))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))
    .map((f) => join(runDir, f));
}
