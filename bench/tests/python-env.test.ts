import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, test } from "vitest";
import { ensureVenv } from "../harness/setup/python-env.ts";

const work = mkdtempSync(join(tmpdir(), "qwen3-bench-venv-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A minimal pure-Python wheel holding one module, written by hand (no network, no build tool). */
async function writeWheel(dir: string, name: string, source: string): Promise<void> {
  const dist = `${name}-0.1.dist-info`;
  const files: Record<string, string> = {
    [`${name}.py`]: source,
    [`${dist}/METADATA`]: `Metadata-Version: 2.1\nName: ${name}\nVersion: 0.1\n`,
    [`${dist}/WHEEL`]: "Wheel-Version: 1.0\nGenerator: qwen3-bench-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
  };
  const digest = (text: string) => createHash("sha256").update(text).digest("base64url");
  const record = Object.entries(files).map(([path, text]) => `${path},sha256=${digest(text)},${Buffer.byteLength(text)}`);
  files[`${dist}/RECORD`] = [...record, `${dist}/RECORD,,`].join("\n") + "\n";
  const script = "import json, sys, zipfile\nfiles = json.load(sys.stdin)\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    for path, text in files.items(): z.writestr(path, text)\n";
  await execa("python3", ["-c", script, join(dir, `${name}-0.1-py3-none-any.whl`)], { input: JSON.stringify(files) });
}

describe("offline Python runner setup (BENCH_WHEELS_DIR)", () => {
  test("the venv gets the folder's wheels and sees the packages of python3, also when python3 is itself a venv", async () => {
    // The GPU host's python3 is a venv (/opt/torch/.venv): stand in for it with one holding a marker module.
    const host = join(work, "host-venv");
    await execa("python3", ["-m", "venv", "--without-pip", host]);
    const hostPurelib = (await execa(join(host, "bin", "python3"), ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])).stdout.trim();
    writeFileSync(join(hostPurelib, "qwen3_bench_host_marker.py"), "WHERE = 'host'\n");
    const wheels = join(work, "wheels");
    mkdirSync(wheels);
    await writeWheel(wheels, "qwen3_bench_wheel_marker", "WHERE = 'wheel'\n");
    const runnerDir = join(work, "runner");
    mkdirSync(runnerDir);
    writeFileSync(join(runnerDir, "pyproject.toml"), '[project]\nname = "fake-runner"\nversion = "0"\n');

    const savedPath = process.env.PATH;
    process.env.PATH = `${join(host, "bin")}:${savedPath}`;
    try {
      const python = await ensureVenv("test venv", runnerDir, [], wheels);
      const both = await execa(python, ["-c", "import qwen3_bench_host_marker as h, qwen3_bench_wheel_marker as w; print(h.WHERE, w.WHERE)"], { reject: false });
      expect(both.stderr).toBe("");
      expect(both.stdout).toBe("host wheel");
    } finally {
      process.env.PATH = savedPath;
    }
  });
});
