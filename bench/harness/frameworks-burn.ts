import type { Framework } from "./framework.ts";
import { BURN_FLAGS } from "./runner-flags.ts";
import { buildBurn, burnBinary, compiledBackends } from "./setup/burn-build.ts";

/** The Burn runner's backends, one Cargo feature and `--backend` value each (runners/burn/README.md, "Build"). */
export type BurnBackend = "cpu" | "wgpu" | "cuda" | "metal";

/**
 * The Burn runner (runners/burn) on one backend, as `burn-<backend>`. One binary holds every backend
 * built on this machine (setup/burn-build.ts picks the features), so every entry shares its build.
 */
export function burnRunner(opts: {
  backend: BurnBackend;
  description: string;
  /** Why this backend cannot run on this machine, or null. */
  unavailableHere: () => Promise<string | null>;
}): Framework {
  const { backend, unavailableHere } = opts;
  const name = `burn-${backend}`;
  return {
    name,
    readyFramework: "burn",
    description: opts.description,
    flags: BURN_FLAGS,
    async probe() {
      const reason = await unavailableHere();
      if (reason) return { available: false, reason };
      const backends = await compiledBackends();
      if (backends === null) return { available: false, reason: `not built: run \`npx qwen3-bench setup\` (cargo) or set BENCH_BURN_BIN (${burnBinary()} missing)` };
      if (!backends.includes(backend)) return { available: false, reason: `${burnBinary()} was built without the ${backend} feature (has: ${backends.join(", ")})` };
      return { available: true, reason: `${burnBinary()} (backends: ${backends.join(", ")})` };
    },
    async setup() {
      if (await unavailableHere()) return;
      await buildBurn();
    },
    async launch(modelDir, dtype) {
      return { framework: name, command: burnBinary(), args: ["--model", modelDir, "--dtype", dtype, "--backend", backend] };
    },
  };
}
