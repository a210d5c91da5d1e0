import { existsSync } from "node:fs";
import type { Availability, Framework } from "./framework.ts";
import type { RunnerFlag } from "./runner-flags.ts";

/** A runner binary that one build command produces (mlx-swift, burn-mlx); BENCH_<NAME>_BIN points at a prebuilt one. */
export function binaryRunner(opts: {
  name: string;
  readyFramework: string;
  /** Runner flags a label may set (runner-flags.ts). */
  flags?: Record<string, RunnerFlag>;
  description: string;
  binary: () => string;
  /** Set when the binary comes from the environment: setup then builds nothing. */
  prebuilt: () => boolean;
  build: () => Promise<void>;
  /** Why this machine can neither build nor run it, or null. */
  notHere: () => Promise<string | null>;
  notBuiltHint: string;
  args: string[];
}): Framework {
  return {
    name: opts.name,
    readyFramework: opts.readyFramework,
    flags: opts.flags,
    description: opts.description,
    async probe(): Promise<Availability> {
      // A prebuilt binary runs wherever it was built for (mlx-swift also builds for Linux's CPU:
      // runners/mlx-swift-runner/README.md), so only a build here needs the platform.
      const reason = opts.prebuilt() ? null : await opts.notHere();
      if (reason) return { available: false, reason };
      if (!existsSync(opts.binary())) return { available: false, reason: `not built: ${opts.notBuiltHint} (${opts.binary()} missing)` };
      return { available: true, reason: opts.binary() };
    },
    async setup() {
      if ((await opts.notHere()) || opts.prebuilt()) return;
      await opts.build();
    },
    async launch(modelDir, dtype) {
      return { framework: opts.name, command: opts.binary(), args: ["--model", modelDir, "--dtype", dtype, ...opts.args] };
    },
  };
}
