// The Apple Silicon runners (mlx-swift, burn-metal, burn-mlx) off a Mac: listed, unavailable with
// the reason, setup a no-op; and file-level checks of what only a Mac can build (Package.swift,
// the pins the runners report) and of the CI workflows.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, test } from "vitest";
import { FRAMEWORKS } from "../harness/frameworks.ts";
import { REPO_ROOT, RUNNERS_DIR } from "../harness/paths.ts";
import { platformFacts } from "../harness/host/platform.ts";

const appleSilicon = (await platformFacts()).appleSilicon;
const APPLE_FRAMEWORKS = FRAMEWORKS.filter((f) => ["mlx-swift", "burn-metal", "burn-mlx"].includes(f.name));
const read = (...path: string[]): string => readFileSync(join(REPO_ROOT, ...path), "utf8");

/** Runs `body` with environment variables set (a string) or unset (undefined), then restores them. */
async function withEnv<T>(vars: Record<string, string | undefined>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>): void => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(vars);
  try {
    return await body();
  } finally {
    apply(saved);
  }
}

/** No prebuilt binaries from the environment (a developer may have exported them). */
const NO_PREBUILT = { BENCH_MLX_SWIFT_BIN: undefined, BENCH_BURN_MLX_BIN: undefined };
/** Nor burn-mlx's Linux CPU build (CI exports BENCH_BURN_MLX=linux-cpu). */
const MAC_ONLY = { ...NO_PREBUILT, BENCH_BURN_MLX: undefined };

describe("Apple frameworks", () => {
  test("mlx-swift, burn-metal and burn-mlx are listed", () => {
    expect(APPLE_FRAMEWORKS.map((f) => f.name)).toEqual(["mlx-swift", "burn-metal", "burn-mlx"]);
    for (const f of APPLE_FRAMEWORKS) expect(f.description.length).toBeGreaterThan(20);
  });

  test.runIf(!appleSilicon)("off Apple Silicon, without a prebuilt binary, each is unavailable because it needs macOS on Apple Silicon", async () => {
    await withEnv(MAC_ONLY, async () => {
      for (const f of APPLE_FRAMEWORKS) {
        const reason = f.name === "burn-mlx" ? "needs macOS on Apple Silicon, or Linux with BENCH_BURN_MLX=linux-cpu" : "needs macOS on Apple Silicon";
        expect(await f.probe(), f.name).toEqual({ available: false, reason });
      }
    });
  });

  test.runIf(!appleSilicon)("off Apple Silicon setup builds nothing", async () => {
    await withEnv(MAC_ONLY, async () => {
      const started = Date.now();
      for (const f of APPLE_FRAMEWORKS) await f.setup();
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(existsSync(join(RUNNERS_DIR, "mlx-swift-runner", ".build"))).toBe(false);
    });
  });

  // The Linux CPU build (runners/mlx-swift-runner/README.md) is run through BENCH_MLX_SWIFT_BIN.
  test("BENCH_MLX_SWIFT_BIN naming an existing file makes mlx-swift available on any OS, launched from that file, setup building nothing", async () => {
    const mlxSwift = APPLE_FRAMEWORKS.find((f) => f.name === "mlx-swift")!;
    const dir = mkdtempSync(join(tmpdir(), "qwen3-bench-mlx-swift-bin-"));
    const binary = join(dir, "qwen3-mlx-swift-runner");
    writeFileSync(binary, "");
    try {
      await withEnv({ BENCH_MLX_SWIFT_BIN: binary }, async () => {
        expect(await mlxSwift.probe()).toEqual({ available: true, reason: binary });
        expect((await mlxSwift.launch("/m", "f32")).command).toBe(binary);
        const started = Date.now();
        await mlxSwift.setup();
        expect(Date.now() - started).toBeLessThan(5_000);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("BENCH_MLX_SWIFT_BIN naming a missing file: unavailable, naming the path", async () => {
    const mlxSwift = APPLE_FRAMEWORKS.find((f) => f.name === "mlx-swift")!;
    const missing = join(tmpdir(), "qwen3-bench-no-such-dir", "qwen3-mlx-swift-runner");
    await withEnv({ BENCH_MLX_SWIFT_BIN: missing }, async () => {
      const probe = await mlxSwift.probe();
      expect(probe.available).toBe(false);
      expect(probe.reason).toContain(missing);
    });
  });

  // The Linux CPU build itself (setup/burn-mlx-build.ts) is checked by the conformance suite, which runs it.
  test.runIf(process.platform === "linux")("BENCH_BURN_MLX=linux-cpu on Linux: burn-mlx is available once built in the cargo target folder, else says how to build it", async () => {
    const burnMlx = APPLE_FRAMEWORKS.find((f) => f.name === "burn-mlx")!;
    const target = mkdtempSync(join(tmpdir(), "qwen3-bench-burn-mlx-target-"));
    const binary = join(target, "release", "qwen3-burn-mlx-runner");
    try {
      await withEnv({ ...NO_PREBUILT, BENCH_BURN_MLX: "linux-cpu", CARGO_TARGET_DIR: target }, async () => {
        const missing = await burnMlx.probe();
        expect(missing.available).toBe(false);
        expect(missing.reason).toMatch(/^not built: run `npx qwen3-bench setup`/);
        expect(missing.reason).toContain(binary);
        mkdirSync(dirname(binary));
        writeFileSync(binary, "");
        expect(await burnMlx.probe()).toEqual({ available: true, reason: binary });
        expect((await burnMlx.launch("/m", "f32")).command).toBe(binary);
      });
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });

  test("launch commands: the mlx-swift binary from xcodebuild, burn's --backend metal, burn-mlx's --backend mlx", async () => {
    const [mlxSwift, burnMetal, burnMlx] = await withEnv(MAC_ONLY, () => Promise.all(APPLE_FRAMEWORKS.map((f) => f.launch("/m", "f16"))));
    expect(mlxSwift.command).toMatch(/qwen3-mlx-swift-runner$/);
    expect(mlxSwift.args).toEqual(["--model", "/m", "--dtype", "f16"]);
    expect(burnMetal.command).toMatch(/qwen3-burn-runner$/);
    expect(burnMetal.args).toEqual(["--model", "/m", "--dtype", "f16", "--backend", "metal"]);
    expect(burnMlx.command).toMatch(/qwen3-burn-mlx-runner$/);
    expect(burnMlx.args).toEqual(["--model", "/m", "--dtype", "f16", "--backend", "mlx"]);
  });
});

describe("runners/mlx-swift-runner (file-level: no Swift toolchain off macOS)", () => {
  const manifest = read("runners", "mlx-swift-runner", "Package.swift");
  const sourcesDir = join(RUNNERS_DIR, "mlx-swift-runner", "Sources", "Qwen3MLXSwiftRunner");
  const sources = readdirSync(sourcesDir).map((file) => ({ file, text: readFileSync(join(sourcesDir, file), "utf8") }));

  test("Package.swift: tools version, exact mlx-swift pin, MLX and MLXNN, the executable the harness launches", () => {
    expect(manifest.split("\n")[0]).toBe("// swift-tools-version: 5.10");
    expect(manifest).toContain('.package(url: "https://github.com/ml-explore/mlx-swift", exact: "0.31.4")');
    expect(manifest).toContain('.product(name: "MLX", package: "mlx-swift")');
    expect(manifest).toContain('.product(name: "MLXNN", package: "mlx-swift")');
    expect(manifest).toContain('.executable(name: "qwen3-mlx-swift-runner", targets: ["Qwen3MLXSwiftRunner"])');
    expect(manifest).toContain('path: "Sources/Qwen3MLXSwiftRunner"');
    expect(manifest).toContain(".macOS(.v14)");
  });

  test("Darwin and Metal imported only where they exist (the runner also builds on Linux)", () => {
    for (const { file, text } of sources) {
      const lines = text.split("\n").map((line) => line.trim());
      lines.forEach((line, i) => {
        const module = /^import (Darwin|Metal)$/.exec(line)?.[1];
        if (module) expect(lines[i - 1], `${file}:${i + 1}`).toBe(`#if canImport(${module})`);
      });
    }
  });

  test("the version the runner reports equals the pin", () => {
    const main = sources.find((s) => s.file === "main.swift")?.text ?? "";
    expect(main).toContain('let mlxSwiftVersion = "0.31.4"');
  });

  test("sources: balanced brackets, and `import MLXFast` (deprecated in 0.31.4, clashes with MLX.MLXFast) nowhere", () => {
    expect(sources.map((s) => s.file).sort()).toEqual(["Config.swift", "Generate.swift", "JSON.swift", "Model.swift", "Protocol.swift", "Weights.swift", "main.swift"]);
    for (const { file, text } of sources) {
      // Strings and comments stripped, then (), [], {} must balance.
      const code = text.replace(/\/\/.*$/gm, "").replace(/"(?:\\.|[^"\\\n])*"/g, '""');
      for (const [open, close] of [["(", ")"], ["[", "]"], ["{", "}"]]) {
        expect(code.split(open).length, `${file}: ${open}${close}`).toBe(code.split(close).length);
      }
      expect(text, file).not.toMatch(/^import MLXFast$/m);
    }
  });
});

describe("runners/burn-mlx (file-level)", () => {
  test("pins burn 0.16.1 and burn-mlx 0.1.2, the versions the runner reports", () => {
    const cargo = read("runners", "burn-mlx", "Cargo.toml");
    const main = read("runners", "burn-mlx", "src", "main.rs");
    expect(cargo).toContain('burn = { version = "=0.16.1"');
    expect(cargo).toContain('burn-mlx = { version = "=0.1.2"');
    expect(main).toContain('pub const BURN_VERSION: &str = "0.16.1";');
    expect(main).toContain('pub const BURN_MLX_VERSION: &str = "0.1.2";');
    expect(read("runners", "burn-mlx", "Cargo.lock")).toMatch(/name = "burn-mlx"\nversion = "0\.1\.2"/);
  });
});

describe("CI workflows", () => {
  const macos = read(".github", "workflows", "macos.yml");
  const linux = read(".github", "workflows", "linux.yml");

  test("macos.yml: Apple Silicon runner, toolchains, setup, tests, quick bench on the tiny model, results artefact", () => {
    // The hosted job's Mac (Apple Silicon, macOS 14+), and a self-hosted Apple Silicon job for Metal.
    expect(macos).toMatch(/"runs-on": "macos-(1[4-9]|2\d)"/);
    expect(macos).toMatch(/"runs-on": \["self-hosted", "macOS", "ARM64"\]/);
    expect(macos).toContain("mlx-swift[device=cpu]");
    for (const step of [
      "actions/checkout@",
      "actions/setup-node@",
      "dtolnay/rust-toolchain@stable",
      'python-version: "3.12"',
      "maxim-lobanov/setup-xcode@",
      "run: npm ci",
      "npx qwen3-bench setup --tests",
      "run: npm test",
      "MODEL_PATH: models/qwen3-tiny-f32",
      "BENCH_DTYPE: f32",
      "BENCH_PROFILE: quick",
      "run: npx vitest bench --run",
      "actions/upload-artifact@",
      "path: results/",
    ]) {
      expect(macos, step).toContain(step);
    }
    // The steps run in this order.
    const order = ["npm ci", "qwen3-bench setup --tests", "npm test", "vitest bench", "upload-artifact"].map((s) => macos.indexOf(s));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  test("linux.yml runs .ci/run on ubuntu-latest", () => {
    expect(linux).toContain("runs-on: ubuntu-latest");
    expect(linux).toContain("run: bash .ci/run");
  });

  test("no tabs (YAML forbids them in indentation)", () => {
    expect(macos).not.toContain("\t");
    expect(linux).not.toContain("\t");
  });

  const hasPyYaml = (() => {
    try {
      execFileSync("python3", ["-c", "import yaml"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();

  test.runIf(hasPyYaml)("both parse as YAML (PyYAML) into jobs with steps", () => {
    const script = [
      "import json, sys, yaml",
      "out = {}",
      "for path in sys.argv[1:]:",
      "    doc = yaml.safe_load(open(path))",
      // YAML 1.1 reads the key `on` as true; GitHub reads it as the trigger list.
      "    out[path] = {'triggers': sorted(doc.get('on', doc.get(True)) or {}), 'jobs': {name: [s.get('name') or s.get('uses') or s.get('run') for s in job['steps']] for name, job in doc['jobs'].items()}}",
      "print(json.dumps(out))",
    ].join("\n");
    const files = ["macos.yml", "linux.yml"].map((f) => join(REPO_ROOT, ".github", "workflows", f));
    const parsed = JSON.parse(execFileSync("python3", ["-c", script, ...files], { encoding: "utf8" })) as Record<string, { triggers: string[]; jobs: Record<string, string[]> }>;
    const [mac, lin] = files.map((f) => parsed[f]!);
    expect(mac!.triggers).toEqual(["pull_request", "push", "workflow_dispatch"]);
    expect(mac!.jobs["apple-silicon"]).toContain("Tests");
    expect(mac!.jobs["apple-silicon"]).toContain("Quick bench on the tiny model");
    expect(lin!.jobs["ci-run"]).toContain(".ci/run");
  });
});
