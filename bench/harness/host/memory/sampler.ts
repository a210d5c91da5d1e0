import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { followLines, type Follow } from "../command.ts";
import { nvidiaQuery } from "../nvidia.ts";
import { processTree } from "./process-tree.ts";

/**
 * How a runner's memory was measured, from outside the runner, the same way for every framework:
 * - `nvml-process`: the GPU memory NVML attributes to the runner's processes (CUDA context, pools and
 *   all), from `nvidia-smi --query-compute-apps`;
 * - `nvml-device`: the GPU's whole used memory (NVML), where NVML lists no process of ours (a PID
 *   namespace hides them in containers): it includes every other process on that GPU;
 * - `phys-footprint`: macOS's physical footprint (`proc_pid_rusage` ri_phys_footprint), which counts
 *   Metal's unified-memory allocations;
 * - `rss`: resident set size (Linux: the peak since the request began, VmHWM reset through
 *   /proc/PID/clear_refs; elsewhere sampled).
 *
 * NVML is asked only inside the runner's own request windows: once as a window opens, every
 * NVML_WINDOW_POLL_MS while it is open, once as it closes. Each question is an `nvidia-smi` process
 * taking the driver's locks; polled all the time by every runner of a run (as before 2026-12-07:
 * every 50 ms per runner, also while other runners were timed), they slowed the host-bound runners
 * being measured. The pools the frameworks allocate from do not shrink within a request, so the
 * readings at a window's edges hold its peak; the polls catch what a long request grows in between.
 */
export type MemorySource = "nvml-process" | "nvml-device" | "phys-footprint" | "rss";

export interface MemoryPeak {
  /** Peak over the window, MiB; null when nothing could be read. */
  peak_mb: number | null;
  source: MemorySource | null;
}

interface Sample {
  atMs: number;
  /** Summed over the runner's process tree, bytes. */
  bytes: number;
}

const MIB = 1024 * 1024;
const INTERVAL_MS = 50;
/** NVML polls inside a window (besides its two edges): requests of GPU runners mostly end before the first. */
const NVML_WINDOW_POLL_MS = 500;

/** macOS helper (bench/harness/host/memory/footprint.c), compiled by setup into the project's cache folder where a C compiler exists. */
export const footprintHelper = (cacheDir: string): string => join(cacheDir, "qwen3-footprint");

/**
 * Samples one runner's memory from outside it, in windows (one per request). GPU runners on NVIDIA
 * are measured by NVML, everything on macOS by physical footprint, CPU runners on Linux by RSS.
 */
export class ProcessMemorySampler {
  private samples: Sample[] = [];
  /** A looping reader (nvidia-smi -lms, the footprint helper); polling loops watch `running`. */
  private following: Follow | null = null;
  private running = true;
  private windowStartMs = 0;

  readonly source: MemorySource;
  private readonly pids: number[];
  /** Linux RSS: peak read from VmHWM after a reset at the window's start. */
  private readonly hwm: boolean;
  /** NVML sources: one reading (bytes), asked at a window's edges and polled inside it. */
  private nvmlRead: (() => Promise<number | null>) | null = null;
  /** Counts windows: a poll loop runs while its window is the open one. */
  private window = 0;
  private windowOpen = false;

  private constructor(source: MemorySource, pids: number[], hwm: boolean) {
    this.source = source;
    this.pids = pids;
    this.hwm = hwm;
  }

  /** `cacheDir`: the project's cache folder (settings' benchCacheDir), where the macOS footprint helper is. */
  static async start(rootPid: number, opts: { gpu: boolean; nvidiaGpuIndex: number | null; cacheDir: string }): Promise<ProcessMemorySampler> {
    const pids = await processTree(rootPid);
    if (opts.gpu && opts.nvidiaGpuIndex !== null) {
      const perProcess = await nvmlProcessMemory(pids);
      const sampler = new ProcessMemorySampler(perProcess === null ? "nvml-device" : "nvml-process", pids, false);
      const gpuIndex = opts.nvidiaGpuIndex;
      sampler.nvmlRead = perProcess === null ? () => nvmlDeviceMemory(gpuIndex) : () => nvmlProcessMemory(pids);
      return sampler;
    }
    if (process.platform === "darwin" && existsSync(footprintHelper(opts.cacheDir))) {
      const sampler = new ProcessMemorySampler("phys-footprint", pids, false);
      sampler.followLines([footprintHelper(opts.cacheDir), String(INTERVAL_MS), ...pids.map(String)], (line) => Number(line));
      return sampler;
    }
    const hwm = process.platform === "linux" && resetPeakRss(pids);
    const sampler = new ProcessMemorySampler("rss", pids, hwm);
    if (!hwm) sampler.followLines(["ps", "-o", "rss=", "-p", pids.join(",")], (line) => Number(line) * 1024, true);
    return sampler;
  }

  /** Starts a window (before the request is sent): the next `endWindow` reports the peak from now on. */
  async beginWindow(): Promise<void> {
    this.windowStartMs = performance.now();
    if (this.hwm) resetPeakRss(this.pids);
    if (!this.nvmlRead) return;
    await this.nvmlSample();
    const window = ++this.window;
    this.windowOpen = true;
    const open = () => this.running && this.windowOpen && this.window === window;
    void (async () => {
      while (open()) {
        await new Promise((resolve) => setTimeout(resolve, NVML_WINDOW_POLL_MS));
        if (open()) await this.nvmlSample();
      }
    })();
  }

  /** The peak since `beginWindow` (after the reply), waiting briefly for a sample that covers the window's end. */
  async endWindow(): Promise<MemoryPeak> {
    if (this.hwm) {
      const bytes = sumProc(this.pids, "VmHWM");
      return { peak_mb: bytes === null ? null : bytes / MIB, source: this.source };
    }
    if (this.nvmlRead) {
      this.windowOpen = false;
      await this.nvmlSample();
      const peak = peakBetween(this.samples, this.windowStartMs, performance.now());
      this.samples = [];
      return { peak_mb: peak === null ? null : peak / MIB, source: this.source };
    }
    const endMs = performance.now();
    const deadline = endMs + 4 * INTERVAL_MS;
    while (this.running && (this.samples.at(-1)?.atMs ?? -Infinity) < endMs && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS / 5));
    }
    const peak = peakBetween(this.samples, this.windowStartMs, endMs);
    this.samples = this.samples.filter((s) => s.atMs >= endMs - 2 * INTERVAL_MS);
    return { peak_mb: peak === null ? null : peak / MIB, source: this.source };
  }

  stop(): void {
    this.running = false;
    this.following?.stop();
    this.following = null;
  }

  private async nvmlSample(): Promise<void> {
    const bytes = await this.nvmlRead!();
    if (bytes !== null) this.samples.push({ atMs: performance.now(), bytes });
  }

  /** One reading per stdout line of a looping command (or a repeated one-shot command). */
  private followLines(command: string[], bytesOf: (line: string) => number, repeat = false): void {
    if (!repeat) {
      this.following = followLines(command, this.reading(bytesOf));
      return;
    }
    void (async () => {
      while (this.running) {
        await followLines(command, this.reading(bytesOf, true)).exited;
        await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
      }
    })();
  }

  /** A line handler pushing one sample per line; `summed`: the lines of one invocation are one sample (a repeated `ps` prints one line per pid). */
  private reading(bytesOf: (line: string) => number, summed = false): (line: string) => void {
    let tick = 0;
    return (line) => {
      const bytes = bytesOf(line.trim());
      if (!Number.isFinite(bytes)) return;
      if (summed && tick++ > 0) this.samples[this.samples.length - 1].bytes += bytes;
      else this.samples.push({ atMs: performance.now(), bytes });
    };
  }
}

/** Pure: the largest sample inside [startMs, endMs], or the last one before it when none falls inside. */
export function peakBetween(samples: Sample[], startMs: number, endMs: number): number | null {
  let peak: number | null = null;
  let before: Sample | null = null;
  for (const s of samples) {
    if (s.atMs < startMs) before = s;
    else if (s.atMs <= endMs) peak = Math.max(peak ?? 0, s.bytes);
  }
  return peak ?? before?.bytes ?? null;
}

/** Pure: bytes that NVML's compute-apps rows ([pid, used MiB]) attribute to `pids`; null when none is listed. */
export function nvmlBytesFor(rows: string[][], pids: number[]): number | null {
  let total: number | null = null;
  for (const row of rows) {
    const [pid, mib] = row.map(Number);
    if (pids.includes(pid) && Number.isFinite(mib)) total = (total ?? 0) + mib * MIB;
  }
  return total;
}

async function nvmlDeviceMemory(gpuIndex: number): Promise<number | null> {
  const used = Number((await nvidiaQuery({ gpu: ["memory.used"], gpuIndex }))?.[0]?.[0]);
  return Number.isFinite(used) ? used * MIB : null;
}

async function nvmlProcessMemory(pids: number[]): Promise<number | null> {
  const rows = await nvidiaQuery({ computeApps: ["pid", "used_memory"] });
  return rows === null ? null : nvmlBytesFor(rows, pids);
}

/** Linux: resets each process's peak RSS (VmHWM) to its current RSS; false where not permitted. */
function resetPeakRss(pids: number[]): boolean {
  try {
    for (const pid of pids) writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Linux: a /proc/PID/status field (kB) summed over the pids, in bytes. */
function sumProc(pids: number[], field: "VmHWM" | "VmRSS"): number | null {
  let total: number | null = null;
  for (const pid of pids) {
    try {
      const match = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
      if (match) total = (total ?? 0) + Number(match[1]) * 1024;
    } catch {
      // Exited.
    }
  }
  return total;
}
