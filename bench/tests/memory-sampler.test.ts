// The harness-side memory sampler (bench/harness/memory/): checked on processes whose use is known.
import { execa } from "execa";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { descendants } from "../harness/host/memory/process-tree.ts";
import { nvmlBytesFor, peakBetween, ProcessMemorySampler } from "../harness/host/memory/sampler.ts";
import { benchCacheDir } from "../harness/settings.ts";

const MIB = 1024 * 1024;

/** A child that holds `holdMib` MiB touched, allocates `burstMib` more when told "burst", frees it, then reports. */
function allocator(holdMib: number, burstMib: number) {
  const script = `
    const hold = Buffer.alloc(${holdMib} * 1024 * 1024, 1);
    process.stdin.on("data", (d) => {
      if (String(d).includes("burst")) {
        let burst = Buffer.alloc(${burstMib} * 1024 * 1024, 2);
        burst = null;
        globalThis.gc?.();
        process.stdout.write("done\\n");
      }
    });
    process.stdout.write("ready " + hold.length + "\\n");`;
  return execa(process.execPath, ["--expose-gc", "-e", script], { stdin: "pipe", stdout: "pipe", buffer: false, reject: false });
}

async function nextLine(child: ReturnType<typeof allocator>): Promise<string> {
  return new Promise((resolve) => child.stdout!.once("data", (d) => resolve(String(d))));
}

describe("memory sampler", () => {
  test("pure parts: process tree, NVML CSV, peak in a window", () => {
    expect(descendants(10, new Map([[11, 10], [12, 11], [13, 1], [14, 10]]))).toEqual([10, 11, 14, 12]);
    expect(nvmlBytesFor([["123", "1500"], ["456", "700"], ["789", "20"]], [123, 789])).toBe(1520 * MIB);
    expect(nvmlBytesFor([["999", "1500"]], [123])).toBeNull();
    const samples = [{ atMs: 0, bytes: 5 }, { atMs: 10, bytes: 9 }, { atMs: 20, bytes: 7 }, { atMs: 30, bytes: 50 }];
    expect(peakBetween(samples, 5, 25)).toBe(9);
    expect(peakBetween(samples, 12, 18)).toBe(9); // nothing inside: the last reading before the window
    expect(peakBetween([], 0, 1)).toBeNull();
  });

  test.runIf(process.platform === "linux")("CPU process on Linux: the peak RSS of a request window, from outside, resets per window", async () => {
    const child = allocator(200, 300);
    try {
      expect(await nextLine(child)).toMatch(/^ready/);
      const sampler = await ProcessMemorySampler.start(child.pid!, { gpu: false, nvidiaGpuIndex: null, cacheDir: benchCacheDir() });
      expect(sampler.source).toBe("rss");

      await sampler.beginWindow();
      child.stdin!.write("burst\n");
      expect(await nextLine(child)).toMatch(/done/);
      const burst = await sampler.endWindow();
      // The 200 MiB held plus the 300 MiB burst, and Node itself (tens of MiB).
      expect(burst.peak_mb!).toBeGreaterThan(500);
      expect(burst.peak_mb!).toBeLessThan(500 + 200);

      await sampler.beginWindow();
      const quiet = await sampler.endWindow();
      // The burst was freed: a new window sees only what is resident now.
      expect(quiet.peak_mb!).toBeGreaterThan(200);
      expect(quiet.peak_mb!).toBeLessThan(burst.peak_mb! - 100);
      sampler.stop();
    } finally {
      child.kill();
    }
  });

  test.runIf(process.platform !== "win32")("a GPU runner's memory is asked of NVML only inside its own request windows", async () => {
    // A fake nvidia-smi that logs each call and attributes 1500 MiB to the sampled process.
    const dir = mkdtempSync(join(tmpdir(), "fake-nvidia-smi-"));
    const log = join(dir, "calls.log");
    const fake = join(dir, "nvidia-smi");
    writeFileSync(fake, `#!/bin/sh\necho "$*" >> "${log}"\ncase "$*" in *compute-apps*) echo "$FAKE_PID, 1500";; esac\n`);
    chmodSync(fake, 0o755);
    const child = execa("sleep", ["30"], { reject: false });
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    process.env.FAKE_PID = String(child.pid);
    const calls = () => readFileSync(log, "utf8").trim().split("\n").length;
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    try {
      const sampler = await ProcessMemorySampler.start(child.pid!, { gpu: true, nvidiaGpuIndex: 0, cacheDir: benchCacheDir() });
      expect(sampler.source).toBe("nvml-process");
      const afterStart = calls();
      await pause(400);
      expect(calls()).toBe(afterStart); // no runner's request open: NVML is left alone

      await sampler.beginWindow();
      await pause(1200); // a long request: polled every 500 ms inside it
      const peak = await sampler.endWindow();
      expect(peak).toEqual({ peak_mb: 1500, source: "nvml-process" });
      const afterWindow = calls();
      expect(afterWindow - afterStart).toBeGreaterThanOrEqual(3); // both edges and at least one poll
      expect(afterWindow - afterStart).toBeLessThanOrEqual(5);
      await pause(1100);
      expect(calls()).toBe(afterWindow); // closed again
      sampler.stop();
    } finally {
      process.env.PATH = path;
      delete process.env.FAKE_PID;
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
