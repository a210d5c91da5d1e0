import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { burnBinary } from "../harness/setup/burn-build.ts";
import { venvPython } from "../harness/setup/python-env.ts";

// scripts/gpu-probe.py is how runner variants are timed on a GPU host (one device call, no second
// chance): check here, on the CPU runner, that it drives a runner, compares tokens between
// variants, and reports a variant that cannot start without stopping the others.
const work = mkdtempSync(join(tmpdir(), "qwen3-bench-probe-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Runs where the Burn CPU runner is built; CI requires it (BENCH_REQUIRE), so there it cannot skip.
const burnRequired = (process.env.BENCH_REQUIRE ?? "").split(",").includes("burn-cpu");

describe.skipIf(!existsSync(burnBinary()) && !burnRequired)("scripts/gpu-probe.py", () => {
  test("times variants over the protocol, compares their tokens, and survives a broken one", async () => {
    const variants = join(work, "variants.txt");
    writeFileSync(
      variants,
      [
        `explicit=QWEN3_BURN_STEP_TIMES=1 ${burnBinary()} --model {model} --backend cpu --dtype f32`,
        `burn-attention=${burnBinary()} --model {model} --backend cpu --dtype f32 --attention burn`,
        `missing=${join(work, "no-such-runner")} --model {model}`,
      ].join("\n"),
    );
    const out = join(work, "out");
    const args = ["scripts/gpu-probe.py", "--model", TEST_MODELS.tiny, "--variants", variants, "--out", out, "--tokens", "8", "--requests", "2"];
    const result = await execa("python3", args, { cwd: REPO_ROOT, reject: false });
    expect(result.exitCode).toBe(0);
    const probe = JSON.parse(readFileSync(join(out, "probe.json"), "utf8"));
    const [explicit, burn, missing] = probe.results;
    expect(explicit.decode_tok_s).toHaveLength(2);
    expect(explicit.median_decode_tok_s).toBeGreaterThan(0);
    expect(explicit.ready.backend).toBe("cpu");
    expect(explicit.stderr_tail.join("\n")).toMatch(/8 tokens: build [0-9.]+ ms\/token, read [0-9.]+ ms\/token/);
    expect(burn.tokens).toEqual(explicit.tokens);
    expect(missing.error).toMatch(/FileNotFoundError/);
    // The table printed last names every variant, and the second agrees with the first.
    const table = result.stdout.slice(result.stdout.lastIndexOf("variant"));
    expect(table).toMatch(/burn-attention\s+\S+\s+\S+\s+\S+\s+same/);
    expect(table).toMatch(/missing .*FileNotFoundError/);
  });
});

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
