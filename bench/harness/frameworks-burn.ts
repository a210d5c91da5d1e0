import type { Framework } from "./framework.ts";
import { BURN_FLAGS } from "./runner-flags.ts";
import { buildBurn, burnBinary, compiledBackends } from "./setup/burn-build.ts";

/** The Burn runner's backends, one Cargo feature and `--backend` value each (runners/burn/README.md, "Build"). */
export type BurnBackend = "cpu" | "wgpu" | "cuda" | "metal";

/**
 * Why a label's Burn flags cannot run together on `backend`, or null: what the runner would refuse
 * at start-up (src/kernels/mod.rs, src/quant.rs), said by `doctor` and the skip line instead. This
 * repository's kernels (any `kernels` set but `burn`) are CubeCL kernels, which Burn's CPU backend
 * is not; they read float weights, so `quant` runs on Burn's own product only.
 */
export function burnFlagConflict(backend: BurnBackend, flags: Array<[string, string]>): string | null {
  const value = (name: string) => flags.find(([flag]) => flag === name)?.[1];
  const kernels = value("kernels");
  const usesKernels = kernels !== undefined && kernels !== "burn";
  if (usesKernels && backend === "cpu") return `kernels=${kernels}: this repository's kernels are CubeCL kernels and burn-cpu runs Burn's CPU backend, which is not CubeCL (burn-cuda, burn-wgpu and burn-metal run them)`;
  const quant = value("quant");
  if (usesKernels && quant !== undefined) return `quant=${quant} with kernels=${kernels}: Burn's quantized weights run on Burn's own product, and the kernels read float weights (leave out one of the two)`;
  return null;
}

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
    async probe(flags = []) {
      const reason = (await unavailableHere()) ?? burnFlagConflict(backend, flags);
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
