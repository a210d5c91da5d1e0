import { cpus, hostname } from "node:os";
import si from "systeminformation";
import { tryOutput } from "./command.ts";
import { knownBandwidth } from "./hw-bandwidth.ts";
import { nvidiaQuery } from "./nvidia.ts";
import { GpuInfo, HwInfo } from "../schema/hw-info.ts";

/** A tool's stdout, or null when it is missing or fails (hardware probing is best-effort). */
const tryRun = (file: string, args: string[]): Promise<string | null> => tryOutput(file, args, undefined, { timeoutMs: 10_000 });

/** The fields of NVIDIA_FIELDS' query, in the order parseNvidiaSmi reads them. */
const NVIDIA_FIELDS = ["name", "driver_version", "memory.total", "power.limit"];

const numberOrNull = (text: string | undefined): number | null => {
  const value = Number(text?.trim());
  return text !== undefined && text.trim() !== "" && Number.isFinite(value) ? value : null;
};

function withBandwidth(gpu: Omit<GpuInfo, "bandwidth_bytes_per_s" | "bandwidth_source">, cpuCores: number): GpuInfo {
  const bandwidth = knownBandwidth(gpu.name, { memoryMb: gpu.memory_mb, cpuCores });
  return { ...gpu, bandwidth_bytes_per_s: bandwidth, bandwidth_source: bandwidth === null ? null : "known-chip table" };
}

/** One GpuInfo per row of nvidia-smi's answer to NVIDIA_FIELDS (name, driver_version, memory.total MiB, power.limit W). */
export function parseNvidiaSmi(rows: string[][], cpuCores: number): GpuInfo[] {
  return rows
    .filter((row) => row.join("") !== "")
    .map(([name = "", driver, memory, power]) => {
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
  const smi = await nvidiaQuery({ gpu: NVIDIA_FIELDS });
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
