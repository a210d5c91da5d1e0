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
