import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Framework } from "./framework.ts";
import type { RunnerFlag } from "./runner-flags.ts";
import { RUNNERS_DIR } from "./paths.ts";
import { canImport, ensureVenv, venvPython } from "./setup/python-env.ts";
import { hostSettings } from "./settings.ts";

/** A Python runner at runners/<folder>/runner.py, in its own uv venv (runners/python-common serves the protocol). */
export function pythonRunner(opts: {
  name: string;
  readyFramework: string;
  /** Runner flags a label may set (runner-flags.ts). */
  flags?: Record<string, RunnerFlag>;
  folder: string;
  description: string;
  modules: string[];
  /** pyproject extras for this platform, or a reason it cannot run here. */
  extras: () => Promise<string[] | { unavailable: string }>;
  /** An already-installed Python to use instead of the venv (e.g. the GPU host's system Python). */
  fallbackPython?: () => Promise<string | null>;
  /** Install only when this returns true (torch is several GB). */
  installWhen?: () => boolean;
  installHint?: string;
  args?: string[];
}): Framework {
  const dir = join(RUNNERS_DIR, opts.folder);
  const resolvePython = async (): Promise<string | null> => {
    if (await canImport(venvPython(dir), opts.modules)) return venvPython(dir);
    return (await opts.fallbackPython?.()) ?? null;
  };
  return {
    name: opts.name,
    readyFramework: opts.readyFramework,
    flags: opts.flags,
    description: opts.description,
    async probe() {
      const extras = await opts.extras();
      if (!Array.isArray(extras)) return { available: false, reason: extras.unavailable };
      const python = await resolvePython();
      if (python) return { available: true, reason: `${python} imports ${opts.modules.join(", ")}` };
      return { available: false, reason: `not installed: ${opts.installHint ?? "run `npx qwen3-bench setup`"}` };
    },
    async setup() {
      const extras = await opts.extras();
      if (!Array.isArray(extras)) return;
      // An existing venv is always brought up to date (ensureVenv is a no-op when its stamp
      // matches the pyproject and extras); without one, a host Python that has the modules is used
      // as it is, and installs that need consent (torch) wait for it.
      if (!existsSync(venvPython(dir))) {
        if (await opts.fallbackPython?.()) return;
        if (opts.installWhen && !opts.installWhen()) return;
      }
      await ensureVenv(`setup ${opts.name}`, dir, extras, hostSettings().BENCH_WHEELS_DIR);
    },
    async launch(modelDir, dtype) {
      const python = await resolvePython();
      if (!python) throw new Error(`${opts.name}: no Python with ${opts.modules.join(", ")}`);
      return { framework: opts.name, command: python, args: [join(dir, "runner.py"), "--model", modelDir, "--dtype", dtype, ...(opts.args ?? [])] };
    },
  };
}
