import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { venvPython } from "../harness/setup/python-env.ts";

// The profiling tools BENCH_PROFILER relies on: the summary of Burn's host stacks
// (scripts/host-profile-summary.py) and the torch runner's own profiler (QWEN3_TORCH_PROFILE).
const work = mkdtempSync(join(tmpdir(), "qwen3-bench-profile-tools-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("scripts/host-profile-summary.py", () => {
  test("shares per thread, inclusive, self and crate from collapsed stacks", async () => {
    const stacks = join(work, "host.txt");
    writeFileSync(
      stacks,
      [
        "runner;main;generate;burn_fusion::stream::Processor::process;burn_fusion::search::Block::register 6",
        "runner;main;generate;<burn_cubecl::ops::X as Y>::launch;cubecl_runtime::channel::send 3",
        "cubecl-device;cubecl_cuda::compute::launch;cuLaunchKernel 1",
      ].join("\n") + "\n",
    );
    const result = await execa("python3", ["scripts/host-profile-summary.py", stacks, "--top", "3"], { cwd: REPO_ROOT });
    const section = (title: string) => result.stdout.split(`## ${title}\n`)[1].split("\n\n")[0];
    expect(result.stdout).toMatch(/^10 samples/);
    expect(section("threads")).toMatch(/^\s+90\.0 %  runner\n\s+10\.0 %  cubecl-device/);
    expect(section("inclusive")).toMatch(/^\s+90\.0 %  (main|generate)/);
    expect(section("self")).toMatch(/^\s+60\.0 %  burn_fusion::search::Block::register\n\s+30\.0 %  cubecl_runtime::channel::send/);
    expect(section("self by crate")).toMatch(/^\s+60\.0 %  burn_fusion\n\s+30\.0 %  cubecl_runtime\n\s+10\.0 %  cuLaunchKernel/);
    const bad = await execa("python3", ["scripts/host-profile-summary.py", badStacksFile(work)], { cwd: REPO_ROOT, reject: false });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/bad\.txt:1: expected 'frame;frame;\.\. count'/);
  });
});

describe("scripts/cubecl-kernel-census.py", () => {
  test("counts launches per kernel name from CubeCL's profiling lines, leaving out those over the limit", async () => {
    // The line format of CUBECL_DEBUG_OPTION=profile (as in the H200 log of 2026-11-29), values made up.
    const log = join(work, "cubecl-kernels.log");
    writeFileSync(
      log,
      [
        "[START_KERNEL_COMPILATION]",
        "name: burn_cubecl_fusion::optim::elemwise::optimization::elemwise_fuse::ElemwiseFuse<",
        "| 124.121411ms | ElemwiseFuse | CudaRuntime",
        "| 10µs       | KernelBinop | AddOp | CudaRuntime",
        "| 30µs       | KernelBinop | MulOp | CudaRuntime",
        "| 20000ns    | GemvRowsKernel | CudaRuntime",
        "| 0.00004s   | GemvRowsKernel | CudaRuntime",
      ].join("\n") + "\n",
    );
    const result = await execa("python3", ["scripts/cubecl-kernel-census.py", log, "--steps", "2"], { cwd: REPO_ROOT });
    const rows = result.stdout.split("\n").filter((line) => /^\| [A-Za-z]/.test(line) && !line.startsWith("| kernel"));
    // GemvRowsKernel: 20 + 40 µs = 60 % of 100; KernelBinop 10 + 30 = 40 %; the 124 ms launch left out.
    expect(rows).toEqual([
      "| GemvRowsKernel | 2 | 1.0 | 30.00 | 0.060 | 60.0 % |",
      "| KernelBinop | 2 | 1.0 | 20.00 | 0.040 | 40.0 % |",
      "| all | 4 | 2.0 | | 0.100 | 100 % |",
    ]);
    expect(result.stdout).toContain("1 launch(es) over the --max-us limit left out");
    const none = await execa("python3", ["scripts/cubecl-kernel-census.py", badStacksFile(work)], { cwd: REPO_ROOT, reject: false });
    expect(none.exitCode).not.toBe(0);
    expect(none.stderr).toMatch(/no kernel launch lines/);
  });
});

function badStacksFile(dir: string): string {
  const file = join(dir, "bad.txt");
  writeFileSync(file, "no count here\n");
  return file;
}

// The torch runner's QWEN3_TORCH_PROFILE (runners/torch/request_profile.py), on the CPU: the
// first request is left out, the rest profiled, and the file written at exit.
const torchPython = venvPython(join(REPO_ROOT, "runners", "torch"));
describe.skipIf(!existsSync(torchPython))("QWEN3_TORCH_PROFILE", () => {
  test("profiles requests after the first and writes per-token figures and the operator table at exit", async () => {
    const file = join(work, "torch-profile.txt");
    const request = (id: number, tokens: number) => JSON.stringify({ op: "generate", id, prompt_token_ids: [1, 2, 3], max_new_tokens: tokens, ignore_eos: true });
    const input = [request(1, 4), request(2, 6), request(3, 6), JSON.stringify({ op: "shutdown", id: 4 })].join("\n") + "\n";
    const args = ["runners/torch/runner.py", "--model", TEST_MODELS.tiny, "--dtype", "f32", "--device", "cpu"];
    const result = await execa(torchPython, args, { cwd: REPO_ROOT, input, env: { QWEN3_TORCH_PROFILE: file }, reject: false });
    expect(result.exitCode).toBe(0);
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(/^profiled requests: 2, generated tokens: 12\n/);
    expect(text).toMatch(/per generated token: 0\.0 GPU kernels and copies, 0\.000 ms GPU time, [0-9.]+ ms wall/);
    expect(text).toContain("aten::mm");
  });
});
