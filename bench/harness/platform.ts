import { tryOutput } from "./setup/exec.ts";

/** What this machine can run, probed once per process. */
export interface PlatformFacts {
  os: NodeJS.Platform;
  arch: string;
  appleSilicon: boolean;
  /** `nvidia-smi -L` lists at least one GPU. */
  nvidiaGpu: boolean;
  /** Linux: the Vulkan loader (libvulkan.so.1) is installed; macOS: always (MoltenVK is not needed for Metal). */
  vulkanLoader: boolean;
}

let cached: Promise<PlatformFacts> | null = null;

export function platformFacts(): Promise<PlatformFacts> {
  cached ??= (async () => {
    const os = process.platform;
    const arch = process.arch;
    const nvidia = await tryOutput("nvidia-smi", ["-L"]);
    const ldconfig = os === "linux" ? await tryOutput("/sbin/ldconfig", ["-p"]) : null;
    return {
      os,
      arch,
      appleSilicon: os === "darwin" && arch === "arm64",
      nvidiaGpu: nvidia !== null && nvidia.includes("GPU"),
      vulkanLoader: os === "darwin" || (ldconfig ?? "").includes("libvulkan.so.1"),
    };
  })();
  return cached;
}

/** A GPU or Apple Silicon runs the runners: the `full` profile is worth its time. */
export const hasAccelerator = (p: PlatformFacts): boolean => p.nvidiaGpu || p.appleSilicon;
