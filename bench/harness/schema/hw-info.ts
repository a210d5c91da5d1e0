import { z } from "zod";

/** File name of a run's hardware facts inside its results folder. */
export const HW_INFO_FILE = "hw_info.json";

const BandwidthSource = z.literal("known-chip table").nullable();

/** One GPU as the system and its driver describe it. */
export const GpuInfo = z.object({
  name: z.string(),
  vendor: z.string().nullable(),
  /** Device memory, MiB. */
  memory_mb: z.number().nonnegative().nullable(),
  driver_version: z.string().nullable(),
  /** Board power limit, watts. */
  power_limit_w: z.number().nonnegative().nullable(),
  /** Peak memory bandwidth, bytes per second; null when unknown. */
  bandwidth_bytes_per_s: z.number().positive().nullable(),
  bandwidth_source: BandwidthSource,
});
export type GpuInfo = z.infer<typeof GpuInfo>;

/** `results/<timestamp>/hw_info.json`: the machine a run measured, gathered once at its start. */
export const HwInfo = z.object({
  collected_at: z.string(),
  hostname: z.string(),
  os: z.object({ platform: z.string(), distro: z.string(), release: z.string(), arch: z.string(), kernel: z.string() }),
  cpu: z.object({
    /** e.g. "Intel Xeon Platinum 8480+", "Apple M3 Max". */
    name: z.string(),
    /** Logical cores. */
    cores: z.int().nonnegative(),
    physical_cores: z.int().nonnegative(),
  }),
  /** Installed memory, bytes. */
  memory_bytes: z.number().nonnegative(),
  /** Host (CPU) memory bandwidth, bytes per second; known only for Apple silicon (unified memory), else null. */
  memory_bandwidth_bytes_per_s: z.number().positive().nullable(),
  memory_bandwidth_source: BandwidthSource,
  gpus: z.array(GpuInfo),
  /** Tools that contributed: "systeminformation", "nvidia-smi", "sysctl", "system_profiler". */
  sources: z.array(z.string()),
});
export type HwInfo = z.infer<typeof HwInfo>;
