// A setup that fails says why in `qwen3-bench doctor` and the skip line (harness/setup/outcome.ts),
// not only "not built": the cause is read from the failing command's output, for every kind of setup.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, test } from "vitest";
import { runLogged, tryOutput } from "../harness/host/command.ts";
import { REPO_ROOT } from "../harness/paths.ts";
import { failureReason } from "../harness/setup/outcome.ts";

const CLI = join(REPO_ROOT, "bench", "cli", "main.ts");
const haveCmake = (await tryOutput("cmake", ["--version"])) !== null;
const work = mkdtempSync(join(tmpdir(), "qwen3-bench-setup-failure-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A PATH folder holding only the named programs of this machine (linked), so that the others are missing. */
async function pathWith(programs: string[]): Promise<string> {
  const dir = join(work, `bin-${programs.join("-") || "none"}`);
  mkdirSync(dir, { recursive: true });
  for (const program of programs) {
    const found = await tryOutput("sh", ["-c", `command -v ${program}`]);
    if (found) symlinkSync(found, join(dir, program));
  }
  return dir;
}

describe("failureReason", () => {
  test("names the missing tool from what the build printed", () => {
    // clang-sys's panic inside bindgen's build script (what BENCH_BURN_MLX=linux-cpu without libclang printed).
    const bindgen = `thread 'main' panicked at bindgen-0.70.1/lib.rs:622:27:
Unable to find libclang: "couldn't find any valid shared libraries matching: ['libclang.so', 'libclang-*.so', 'libclang.so.*', 'libclang-*.so.*'], set the \`LIBCLANG_PATH\` environment variable to a path where one of these files can be found (invalid: [])"`;
    expect(failureReason(`setup burn-mlx (linux-cpu): \`cargo build --release\` failed with exit code 101\n${bindgen}`)).toMatch(/^libclang not found: bindgen needs it/);
    expect(failureReason("CMake Error at CMakeLists.txt:2 (project):\n  No CMAKE_CXX_COMPILER could be found.")).toMatch(/^no C\/C\+\+ compiler found/);
    expect(failureReason("error: linker `cc` not found\n  = note: No such file or directory (os error 2)")).toMatch(/^no C\/C\+\+ compiler found/);
    expect(failureReason("x: `ninja -C build` could not start: spawn ninja ENOENT (not on PATH)")).toBe("ninja not found on PATH");
    expect(failureReason("\n  something else went wrong\nmore")).toBe("something else went wrong");
  });
});

describe("a build that fails for a known reason", () => {
  test("a missing command: the runner says it could not start, and the reason names it", async () => {
    const error = await runLogged("setup x", "cmake", ["--version"], { env: { PATH: await pathWith([]) } }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain("could not start: spawn cmake ENOENT");
    expect(failureReason((error as Error).message)).toBe("cmake not found (apt-get install cmake)");
  });

  test.runIf(haveCmake)("cmake without a C++ compiler: the reason is the compiler", async () => {
    const project = join(work, "cxx-project");
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, "CMakeLists.txt"), "cmake_minimum_required(VERSION 3.16)\nproject(probe CXX)\n");
    const error = await runLogged("setup x", "cmake", ["-S", project, "-B", join(project, "build"), `-DCMAKE_CXX_COMPILER=${join(work, "no-such-compiler")}`]).catch((e: Error) => e);
    expect(failureReason((error as Error).message)).toBe("no C/C++ compiler found (apt-get install build-essential)");
  });

  test("BENCH_BURN_MLX=linux-cpu with PATH lacking cmake: setup records why, doctor and the skip line say it", async () => {
    const env = {
      PATH: await pathWith(["cargo", "rustc", "uv", "python3", "sh"]),
      HOME: process.env.HOME ?? "",
      XDG_CACHE_HOME: join(work, "cache"),
      BENCH_BURN_MLX: "linux-cpu",
      BENCH_FRAMEWORKS: "burn-mlx",
      BENCH_PROFILE: "quick",
    };
    const setup = await execa(process.execPath, [CLI, "setup", "--tests"], { reject: false, env, extendEnv: false, cwd: REPO_ROOT });
    expect(setup.stderr).toContain("burn-mlx could not be set up: cmake not found");
    const doctor = await execa(process.execPath, [CLI, "doctor"], { reject: false, env, extendEnv: false, cwd: REPO_ROOT });
    expect(doctor.stdout).toMatch(/unavailable +burn-mlx +setup failed \([0-9T:.-]+Z\): cmake not found \(apt-get install cmake\); not built: /);
    // The skip line's reason: the plan's probe of the variant.
    const probe = await execa(process.execPath, ["--input-type=module", "-e", `
      import { frameworkByName } from ${JSON.stringify(join(REPO_ROOT, "bench/harness/frameworks.ts"))};
      import { plainVariant, probeVariant } from ${JSON.stringify(join(REPO_ROOT, "bench/harness/variants.ts"))};
      console.log(JSON.stringify(await probeVariant(plainVariant(frameworkByName("burn-mlx")))));`], { reject: false, env, extendEnv: false, cwd: REPO_ROOT });
    expect(probe.stderr).toBe("");
    expect(JSON.parse(probe.stdout)).toMatchObject({ available: false, reason: expect.stringMatching(/^setup failed \(.*\): cmake not found/) });
  }, 120_000);
});
