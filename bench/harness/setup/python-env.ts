import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runLogged, tryOutput } from "../host/command.ts";

let uv: Promise<string[]> | null = null;

/** The uv command: `uv` on PATH, else `python3 -m uv`, installing uv with pip when neither works (once per process: setups run two at a time). */
export function uvCommand(): Promise<string[]> {
  uv ??= findOrInstallUv();
  return uv;
}

async function findOrInstallUv(): Promise<string[]> {
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
 * same pyproject and extras does nothing.
 *
 * Offline (a wheel folder, BENCH_WHEELS_DIR): the venv sees python3's site-packages (the GPU
 * host's torch, transformers and NVIDIA libraries, see seeHostPackages) and gets the folder's wheels
 * without resolving their dependencies, since an offline host cannot fetch them.
 */
export async function ensureVenv(label: string, runnerDir: string, extras: string[], wheelsDir?: string): Promise<string> {
  const python = venvPython(runnerDir);
  const pyproject = join(runnerDir, "pyproject.toml");
  const stampFile = join(runnerDir, ".venv", ".qwen3-bench-stamp");
  const wheels = wheelsDir ? readdirSync(wheelsDir).filter((f) => f.endsWith(".whl")).sort() : [];
  const stamp = createHash("sha256")
    .update(JSON.stringify({ pyproject: readFileSync(pyproject, "utf8"), extras, wheels }))
    .digest("hex");
  if (existsSync(python) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return python;
  const [cmd, ...pre] = await uvCommand();
  const venv = join(runnerDir, ".venv");
  if (wheelsDir) {
    await runLogged(label, cmd, [...pre, "venv", "--quiet", "--allow-existing", "--system-site-packages", "--python", "python3", venv]);
    await seeHostPackages(python);
    await runLogged(label, cmd, [...pre, "pip", "install", "--python", python, "--no-index", "--no-deps", ...wheels.map((w) => join(wheelsDir, w))]);
  } else {
    await runLogged(label, cmd, [...pre, "venv", "--quiet", "--allow-existing", "--python", "python3", venv]);
    await runLogged(label, cmd, [...pre, "pip", "install", "--python", python, "-r", pyproject, ...extras.flatMap((e) => ["--extra", e])]);
  }
  writeFileSync(stampFile, stamp);
  return python;
}

/** True when `python` can import every module named. */
export async function canImport(python: string, modules: string[]): Promise<boolean> {
  return (await tryOutput(python, ["-c", `import ${modules.join(", ")}`])) !== null;
}

/**
 * Lets the venv import what the host's `python3` imports. `--system-site-packages` reaches only
 * the base interpreter's folder, and on the GPU host `python3` is itself a venv (torch,
 * transformers and NVIDIA's libraries live in /opt/torch/.venv): a .pth file in the new venv lists
 * python3's site-packages folders, after the venv's own, so the wheels installed here still win.
 */
async function seeHostPackages(python: string): Promise<void> {
  const hostFolders = await tryOutput("python3", ["-c", "import site; print('\\n'.join(site.getsitepackages()))"]);
  const purelib = await tryOutput(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]);
  if (hostFolders === null || purelib === null) throw new Error(`cannot read the site-packages folders of python3 and ${python}`);
  writeFileSync(join(purelib, "qwen3-bench-host-site-packages.pth"), hostFolders + "\n");
}
