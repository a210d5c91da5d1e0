import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { tryOutput } from "./command.ts";
import { listNvidiaGpus } from "./nvidia.ts";

/** What this machine can run, probed once per process. */
export interface PlatformFacts {
  os: NodeJS.Platform;
  arch: string;
  appleSilicon: boolean;
  /** `nvidia-smi -L` lists at least one GPU. */
  nvidiaGpu: boolean;
  /** Linux: the Vulkan loader (libvulkan.so.1) is installed; macOS: always (MoltenVK is not needed for Metal). */
  vulkanLoader: boolean;
  /** A GPU device node exists (/dev/dri/renderD*, /dev/nvidia*): Vulkan would not be software (lavapipe) only. */
  gpuDeviceNode: boolean;
}

const cached = new Map<string, Promise<PlatformFacts>>();

/**
 * What this machine can run, probed once per process. `libraryPath`: the dynamic loader's extra
 * folders (LD_LIBRARY_PATH, colon-separated, which the caller reads from settings), where a Vulkan
 * loader brought to an offline host is found; only vulkanLoader depends on it.
 */
export function platformFacts(libraryPath = ""): Promise<PlatformFacts> {
  const known = cached.get(libraryPath);
  if (known) return known;
  const probed = (async () => {
    const os = process.platform;
    const arch = process.arch;
    const nvidiaGpus = await listNvidiaGpus();
    const ldconfig = os === "linux" ? await tryOutput("/sbin/ldconfig", ["-p"]) : null;
    return {
      os,
      arch,
      appleSilicon: os === "darwin" && arch === "arm64",
      nvidiaGpu: nvidiaGpus.length > 0,
      vulkanLoader: os === "darwin" || (ldconfig ?? "").includes("libvulkan.so.1") || onLibraryPath("libvulkan.so.1", libraryPath),
      gpuDeviceNode: os === "darwin" || hasGpuDeviceNode(),
    };
  })();
  cached.set(libraryPath, probed);
  return probed;
}

function hasGpuDeviceNode(): boolean {
  const dri = existsSync("/dev/dri") ? readdirSync("/dev/dri").some((f) => f.startsWith("renderD")) : false;
  return dri || readdirSync("/dev").some((f) => /^nvidia\d+$/.test(f));
}

/** True when a folder of the library path holds the library (a loader brought to an offline host). */
const onLibraryPath = (library: string, libraryPath: string): boolean => libraryPath.split(":").some((dir) => dir && existsSync(join(dir, library)));

/** A GPU or Apple Silicon runs the runners: the `full` profile is worth its time. */
export const hasAccelerator = (p: PlatformFacts): boolean => p.nvidiaGpu || p.appleSilicon;
