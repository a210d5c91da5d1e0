import type { Framework } from "./framework.ts";
import { BURN_FLAGS } from "./runner-flags.ts";
import { commandOutput } from "./host/command.ts";
import { FatalMessage } from "./schema/protocol.ts";
import { buildBurn, burnBinary, compiledBackends } from "./setup/burn-build.ts";

/** The Burn runner's backends, one Cargo feature and `--backend` value each (runners/burn/README.md, "Build"). */
export type BurnBackend = "cpu" | "wgpu" | "cuda" | "metal";

/**
 * Why the runner would refuse a label's Burn flags on `backend` at start-up, or null: `doctor` and the
 * skip line say it instead of a failed start. The runner answers itself (`--check-flags`: its
 * start-up checks without a model or a device; runners/burn/src/cli.rs, src/kernels/mod.rs), so the
 * rules live in one place. A runner built before `--check-flags` cannot say: null, and it refuses at
 * start-up as before.
 */
export async function burnFlagRefusal(backend: BurnBackend, flags: Array<[string, string]>): Promise<string | null> {
  if (flags.length === 0) return null;
  const label = flags.map(([name, value]) => `${name}=${value}`).join(",");
  const args = ["--check-flags", "--backend", backend, ...flags.flatMap(([name, value]) => BURN_FLAGS[name]!.args(value))];
  const { exitCode, stdout } = await commandOutput(burnBinary(), args);
  if (exitCode === 0) return null;
  const fatal = stdout.split("\n").map((line) => FatalMessage.safeParse(safeJson(line))).find((parsed) => parsed.success);
  const why = fatal?.data?.error.message ?? `\`${burnBinary()} ${args.join(" ")}\` exited ${exitCode ?? "without a code"}: ${stdout || "no output"}`;
  if (why.includes('unknown argument "--check-flags"')) return null;
  return `${label}: ${why}`;
}

const safeJson = (line: string): unknown => {
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
};

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
      const reason = await unavailableHere();
      if (reason) return { available: false, reason };
      const backends = await compiledBackends();
      if (backends === null) return { available: false, reason: `not built: run \`npx qwen3-bench setup\` (cargo) or set BENCH_BURN_BIN (${burnBinary()} missing)` };
      if (!backends.includes(backend)) return { available: false, reason: `${burnBinary()} was built without the ${backend} feature (has: ${backends.join(", ")})` };
      const refusal = await burnFlagRefusal(backend, flags);
      if (refusal) return { available: false, reason: refusal };
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
