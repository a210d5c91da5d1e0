import { execFile } from "node:child_process";
import { cpus, hostname } from "node:os";
import { promisify } from "node:util";
import si from "systeminformation";
import { z } from "zod";
import { knownBandwidth } from "./known-bandwidth.ts";

const run = promisify(execFile);

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

/** Runs a tool and returns its stdout, or null when it is missing or fails (hardware probing is best-effort). */
async function tryRun(file: string, args: string[]): Promise<string | null> {
  try {
    const { stdout } = await run(file, args, { timeout: 10_000 });
    return stdout;
  } catch {
    return null;
  }
}

const numberOrNull = (text: string | undefined): number | null => {
  const value = Number(text?.trim());
  return text !== undefined && text.trim() !== "" && Number.isFinite(value) ? value : null;
};

function withBandwidth(gpu: Omit<GpuInfo, "bandwidth_bytes_per_s" | "bandwidth_source">, cpuCores: number): GpuInfo {
  const bandwidth = knownBandwidth(gpu.name, { memoryMb: gpu.memory_mb, cpuCores });
  return { ...gpu, bandwidth_bytes_per_s: bandwidth, bandwidth_source: bandwidth === null ? null : "known-chip table" };
}

/** Parses `nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit --format=csv,noheader,nounits`: one GpuInfo per line. */
export function parseNvidiaSmi(csv: string, cpuCores: number): GpuInfo[] {
  return csv
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      const [name = "", driver, memory, power] = line.split(",").map((field) => field.trim());
      return withBandwidth(
        { name, vendor: "NVIDIA", memory_mb: numberOrNull(memory), driver_version: driver || null, power_limit_w: numberOrNull(power) },
        cpuCores,
      );
    });
}

/**
 * system_profiler writes vendors as localisation keys ("sppci_vendor_Apple", "sppci_vendor_intel",
 * "sppci_vendor_amd"); Apple Silicon entries always carry one.
 */
export function macVendor(key: string | undefined): string {
  if (!key) return "Apple";
  const vendor = key.replace(/^sppci_vendor_/, "");
  const known: Record<string, string> = { apple: "Apple", intel: "Intel", amd: "AMD", ati: "AMD", nvidia: "NVIDIA" };
  return known[vendor.toLowerCase()] ?? vendor;
}

/**
 * Gathers hw_info.json's content: systeminformation for OS, CPU, memory and GPUs, nvidia-smi where
 * present (exact GPU names, driver, power limit), sysctl/system_profiler on macOS (chip name, GPU cores).
 * Never throws for a missing tool; fields it cannot learn are null.
 */
export async function collectHwInfo(): Promise<HwInfo> {
  const sources = ["systeminformation"];
  const [cpu, mem, os, graphics] = await Promise.all([
    si.cpu().catch(() => null),
    si.mem().catch(() => null),
    si.osInfo().catch(() => null),
    si.graphics().catch(() => null),
  ]);
  const logicalCores = cpu?.cores || cpus().length;
  let cpuName = [cpu?.manufacturer, cpu?.brand].filter(Boolean).join(" ") || cpus()[0]?.model || "unknown CPU";

  let gpus: GpuInfo[] = [];
  const smi = await tryRun("nvidia-smi", ["--query-gpu=name,driver_version,memory.total,power.limit", "--format=csv,noheader,nounits"]);
  if (smi !== null) {
    sources.push("nvidia-smi");
    gpus = parseNvidiaSmi(smi, logicalCores);
  }

  let hostBandwidth: number | null = null;
  if (process.platform === "darwin") {
    const brand = await tryRun("sysctl", ["-n", "machdep.cpu.brand_string"]);
    if (brand?.trim()) {
      sources.push("sysctl");
      cpuName = brand.trim();
    }
    hostBandwidth = knownBandwidth(cpuName, { cpuCores: logicalCores });
    const profile = await tryRun("system_profiler", ["SPDisplaysDataType", "-json"]);
    if (profile !== null) {
      sources.push("system_profiler");
      try {
        const displays = (JSON.parse(profile) as { SPDisplaysDataType?: Array<Record<string, string>> }).SPDisplaysDataType ?? [];
        gpus = displays.map((d) => ({
          name: [d.sppci_model ?? d._name ?? "unknown GPU", d.sppci_cores ? `(${d.sppci_cores}-core GPU)` : ""].filter(Boolean).join(" "),
          vendor: macVendor(d.spdisplays_vendor),
          memory_mb: null,
          driver_version: null,
          power_limit_w: null,
          // Apple GPUs share the unified memory, so they get the chip's bandwidth.
          bandwidth_bytes_per_s: hostBandwidth,
          bandwidth_source: hostBandwidth === null ? null : ("known-chip table" as const),
        }));
      } catch {
        // An unparsable profile leaves the GPU list from systeminformation below.
      }
    }
  }
  if (gpus.length === 0 && graphics) {
    gpus = graphics.controllers.map((c) =>
      withBandwidth(
        { name: c.model, vendor: c.vendor || null, memory_mb: c.vram ?? null, driver_version: c.driverVersion ?? null, power_limit_w: c.powerLimit ?? null },
        logicalCores,
      ),
    );
  }

  return HwInfo.parse({
    collected_at: new Date().toISOString(),
    hostname: os?.hostname || hostname(),
    os: {
      platform: os?.platform ?? process.platform,
      distro: os?.distro ?? "",
      release: os?.release ?? "",
      arch: os?.arch ?? process.arch,
      kernel: os?.kernel ?? "",
    },
    cpu: { name: cpuName, cores: logicalCores, physical_cores: cpu?.physicalCores ?? logicalCores },
    memory_bytes: mem?.total ?? 0,
    memory_bandwidth_bytes_per_s: hostBandwidth,
    memory_bandwidth_source: hostBandwidth === null ? null : "known-chip table",
    gpus,
    sources,
  });
}
