import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runLogged, tryOutput } from "./exec.ts";

/** The uv command: `uv` on PATH, else `python3 -m uv`, installing uv with pip when neither works. */
export async function uvCommand(): Promise<string[]> {
  if ((await tryOutput("uv", ["--version"])) !== null) return ["uv"];
  if ((await tryOutput("python3", ["-m", "uv", "--version"])) !== null) return ["python3", "-m", "uv"];
  await runLogged("setup uv", "python3", ["-m", "pip", "install", "--quiet", "uv"]);
  if ((await tryOutput("python3", ["-m", "uv", "--version"])) !== null) return ["python3", "-m", "uv"];
  throw new Error("uv could not be installed (python3 -m pip install uv failed)");
}

export const venvPython = (runnerDir: string): string => join(runnerDir, ".venv", "bin", "python");

/**
 * Makes `<runnerDir>/.venv` hold the dependencies of `<runnerDir>/pyproject.toml` (with `extras`),
 * installed by uv. Idempotent: a stamp file records what was installed, so a second call with the
 * same pyproject and extras does nothing. With a wheel folder (BENCH_WHEELS_DIR) it installs
 * offline from that folder only.
 */
export async function ensureVenv(label: string, runnerDir: string, extras: string[], wheelsDir?: string): Promise<string> {
  const python = venvPython(runnerDir);
  const pyproject = join(runnerDir, "pyproject.toml");
  const stampFile = join(runnerDir, ".venv", ".qwen3-bench-stamp");
  const stamp = createHash("sha256")
    .update(JSON.stringify({ pyproject: readFileSync(pyproject, "utf8"), extras, wheelsDir: wheelsDir ?? null }))
    .digest("hex");
  if (existsSync(python) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return python;
  const uv = await uvCommand();
  const [cmd, ...pre] = uv;
  await runLogged(label, cmd, [...pre, "venv", "--quiet", "--allow-existing", "--python", "python3", join(runnerDir, ".venv")]);
  const source = wheelsDir ? ["--no-index", "--find-links", wheelsDir] : [];
  const extraArgs = extras.flatMap((e) => ["--extra", e]);
  await runLogged(label, cmd, [...pre, "pip", "install", "--python", python, ...source, "-r", pyproject, ...extraArgs]);
  writeFileSync(stampFile, stamp);
  return python;
}

/** True when `python` can import every module named. */
export async function canImport(python: string, modules: string[]): Promise<boolean> {
  return (await tryOutput(python, ["-c", `import ${modules.join(", ")}`])) !== null;
}
