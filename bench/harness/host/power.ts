import { followLines, type Follow } from "./command.ts";
import { followNvidia, nvidiaQuery } from "./nvidia.ts";

/** One power reading: host monotonic time (ms, performance.now()) and board power (W). */
interface Sample {
  atMs: number;
  watts: number;
}

const SAMPLE_INTERVAL_MS = 50;
/** How long a window's end may wait for the first sample after it (a few sampling intervals). */
const LATE_SAMPLE_WAIT_MS = 1000;

/** The one sampler of each GPU in this process, and how many runners use it. */
const SHARED = new Map<number, { sampler: Promise<GpuPowerSampler>; users: number }>();

/**
 * Samples NVIDIA GPU board power with `nvidia-smi -lms` while a benchmark runs, so each timed
 * request's energy can be integrated over its own window. Uses `power.draw.instant` where the
 * driver has it (power.draw is a 1 s average on recent drivers). No NVIDIA GPU: no samples, and
 * energy is reported as not measured. One loop per GPU serves every runner on it (`shared`): a loop
 * per runner would leave every idle runner's loop asking the driver while another runner is timed.
 */
export class GpuPowerSampler {
  private readonly samples: Sample[] = [];
  private following: Follow | null = null;
  private gpuIndex: number | null = null;

  /** The sampler of GPU `gpuIndex`, started by its first user; each user calls `release` once. */
  static async shared(gpuIndex = 0): Promise<GpuPowerSampler> {
    let entry = SHARED.get(gpuIndex);
    if (!entry) {
      entry = { sampler: GpuPowerSampler.start(gpuIndex), users: 0 };
      SHARED.set(gpuIndex, entry);
    }
    entry.users++;
    const sampler = await entry.sampler;
    sampler.gpuIndex = gpuIndex;
    return sampler;
  }

  /** One user of a `shared` sampler is done; the last one stops it. */
  release(): void {
    const entry = this.gpuIndex === null ? undefined : SHARED.get(this.gpuIndex);
    if (entry && --entry.users > 0) return;
    if (this.gpuIndex !== null) SHARED.delete(this.gpuIndex);
    this.stop();
  }

  static async start(gpuIndex = 0): Promise<GpuPowerSampler> {
    const sampler = new GpuPowerSampler();
    for (const field of ["power.draw.instant", "power.draw"]) {
      const query = { gpu: [field], gpuIndex };
      const probe = await nvidiaQuery(query);
      if (!Number.isFinite(Number.parseFloat(probe?.[0]?.[0] ?? ""))) continue;
      sampler.following = await followNvidia(query, SAMPLE_INTERVAL_MS, sampler.read);
      break;
    }
    return sampler;
  }

  /** Reads one power reading in watts per stdout line of `command` (a fake nvidia-smi in tests). */
  follow(command: string[]): this {
    this.following = followLines(command, this.read);
    return this;
  }

  private readonly read = (line: string): void => {
    const watts = Number.parseFloat(line);
    if (Number.isFinite(watts)) this.samples.push({ atMs: performance.now(), watts });
  };

  get active(): boolean {
    return this.following !== null;
  }

  /**
   * Energy in joules between two performance.now() instants (trapezoidal integration of the
   * samples, the window's edges interpolated), or null when the window has too few samples.
   * A window that ends now needs the next reading to interpolate its end: wait for it.
   */
  async energyBetween(startMs: number, endMs: number): Promise<number | null> {
    const deadline = performance.now() + LATE_SAMPLE_WAIT_MS;
    while (this.following && (this.samples.at(-1)?.atMs ?? -Infinity) < endMs && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_INTERVAL_MS / 5));
    }
    return integrateEnergy(this.samples, startMs, endMs);
  }

  stop(): void {
    this.following?.stop();
    this.following = null;
  }
}

/**
 * The nvidia-smi index of the GPU this process's CUDA runners use: the first entry of
 * CUDA_VISIBLE_DEVICES when it is a plain index (scripts/offline-run.sh's lanes set it, with
 * CUDA_DEVICE_ORDER=PCI_BUS_ID so that CUDA's and nvidia-smi's numbering agree), else 0.
 */
export function visibleGpuIndex(env: { CUDA_VISIBLE_DEVICES?: string }): number {
  const first = env.CUDA_VISIBLE_DEVICES?.split(",")[0]?.trim() ?? "";
  return /^\d+$/.test(first) ? Number(first) : 0;
}

/** Trapezoidal ∫ P dt over [startMs, endMs] in joules; null unless samples bracket the window. */
export function integrateEnergy(samples: Sample[], startMs: number, endMs: number): number | null {
  if (endMs <= startMs) return null;
  const at = (t: number): number | null => {
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1];
      const b = samples[i];
      if (a.atMs <= t && t <= b.atMs) return b.atMs === a.atMs ? a.watts : a.watts + ((b.watts - a.watts) * (t - a.atMs)) / (b.atMs - a.atMs);
    }
    return null;
  };
  const first = at(startMs);
  const last = at(endMs);
  if (first === null || last === null) return null;
  const points = [{ atMs: startMs, watts: first }, ...samples.filter((s) => s.atMs > startMs && s.atMs < endMs), { atMs: endMs, watts: last }];
  let joules = 0;
  for (let i = 1; i < points.length; i++) joules += ((points[i].watts + points[i - 1].watts) / 2) * ((points[i].atMs - points[i - 1].atMs) / 1000);
  return joules;
}
