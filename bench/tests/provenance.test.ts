import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES_DIR, REPO_ROOT } from "../harness/paths.ts";
import { collectProvenance, harnessCommit, knobsOf, lockfileHashes } from "../harness/provenance.ts";
import { parseJsonFile } from "../harness/schema/parse.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { harnessVersion, PACKAGE_VERSION } from "../harness/version.ts";
import { provenanceDifferences, provenanceFacts, runnerBuildText } from "../report/provenance.ts";
import { buildModel } from "../report/summary.ts";
import { collectWarnings, stepFloorMs } from "../report/warnings.ts";

const quick = (name: string) => parseJsonFile(join(FIXTURES_DIR, "results-sample", "compare-quick-baseline", name), ResultsFile);

describe("provenance collected by the harness", () => {
  it("the harness commit is git describe of this checkout, and the version carries it", () => {
    const described = spawnSync("git", ["describe", "--always", "--dirty"], { cwd: REPO_ROOT, encoding: "utf8" }).stdout.trim();
    expect(harnessCommit({}).commit).toBe(described);
    // A copy whose .git is stale says which commit it is.
    expect(harnessCommit({ QWEN3_BENCH_COMMIT: "ddc1f16" })).toEqual({ commit: "ddc1f16", dirty: null });
    expect(harnessVersion("1a2b3c4-dirty")).toBe(`${PACKAGE_VERSION}+1a2b3c4-dirty`);
    expect(harnessVersion(null)).toBe(PACKAGE_VERSION);
  });

  it("hashes package-lock.json and the runners' lockfiles that exist", () => {
    const hashes = lockfileHashes();
    expect(hashes["package-lock.json"]).toBe(createHash("sha256").update(readFileSync(join(REPO_ROOT, "package-lock.json"))).digest("hex"));
    expect(Object.keys(hashes)).toContain("runners/burn/Cargo.lock");
    expect(Object.keys(hashes)).toContain("runners/torch/pyproject.toml");
    expect(Object.keys(hashes).every((path) => path === "package-lock.json" || path.startsWith("runners/"))).toBe(true);
  });

  it("keeps the knobs that steer a run, nothing else", () => {
    const env = { BENCH_PROFILE: "quick", MODEL_PATH: "models/x", QWEN3_TORCH_PROFILE: "/tmp/p.txt", CUDA_VISIBLE_DEVICES: "1", RAYON_NUM_THREADS: "1", BENCH_DTYPE: "", QWEN3_BENCH_RUN_DIR: "/tmp/run", HOME: "/root", PATH: "/usr/bin", API_TOKEN: "x" };
    expect(knobsOf(env)).toEqual({ BENCH_PROFILE: "quick", CUDA_VISIBLE_DEVICES: "1", MODEL_PATH: "models/x", QWEN3_TORCH_PROFILE: "/tmp/p.txt", RAYON_NUM_THREADS: "1" });
    const p = collectProvenance(["node", "vitest", "bench"], env);
    expect(p.command).toEqual(["node", "vitest", "bench"]);
    expect(p.env).toEqual(knobsOf(env));
    expect(p.node).toBe(process.version);
  });
});

describe("provenance in the report and in compare", () => {
  it("two files of one run differ in nothing; a changed commit, lockfile, knob or build is named", () => {
    const a = quick("torch_results.json");
    expect(provenanceDifferences(a, structuredClone(a))).toEqual([]);
    const b = structuredClone(a);
    b.harness_version = "0.1.0+feed123";
    b.provenance!.lockfiles["package-lock.json"] = "c".repeat(64);
    b.provenance!.env.BENCH_DTYPE = "bf16";
    b.provenance!.env.BENCH_RESULTS_DIR = "elsewhere"; // where results go: not a difference
    b.ready.build = { commit: "abc1234", dirty: true, features: ["cuda"] };
    expect(provenanceDifferences(a, b)).toEqual([
      'harness version: "0.1.0+c0ffee1" vs "0.1.0+feed123"',
      "lockfile package-lock.json: aaaaaaaaaaaa vs cccccccccccc",
      "knob BENCH_DTYPE: unset vs bf16",
      'runner build: null vs {"commit":"abc1234","dirty":true,"features":["cuda"]}',
    ]);
    expect(runnerBuildText(b)).toBe("commit abc1234 (dirty), features cuda");
  });

  it("the report's provenance facts: harness commit, driver, command, knobs, lockfiles", () => {
    const torch = quick("torch_results.json");
    const facts = Object.fromEntries(provenanceFacts(buildModel(["x"], [{ file: "t", label: "torch", results: torch }], null)));
    expect(facts["Harness commit"]).toBe("c0ffee1");
    expect(facts["GPU driver"]).toBe("570.133.20");
    expect(facts.Knobs).toBe("BENCH_FRAMEWORKS=torch,mlx-lm BENCH_PROFILE=quick");
    expect(facts["Lockfiles (sha256)"]).toBe("package-lock.json aaaaaaaaaaaa; runners/torch/pyproject.toml bbbbbbbbbbbb");
  });
});

describe("report warnings from the results' own records", () => {
  it("sync audit: flags an impossibly fast runner (median step below weight bytes / bandwidth)", () => {
    // torch on an H100 (3.35 TB/s) reading 1.19 GB of bf16 weights per token cannot step faster
    // than 1.192e9 / 3.35e12 s = 0.356 ms. This hand-made copy claims 0.05 ms per step: it timed
    // the enqueue of the work, not the token.
    const honest = quick("torch_results.json");
    expect(stepFloorMs(honest.model.weight_bytes, 3.35e12)).toBeCloseTo((596_049_920 * 2 * 1000) / 3.35e12, 12);
    const impossiblyFast = structuredClone(honest);
    for (const run of impossiblyFast.runs) run.per_token_latencies_ms = run.per_token_latencies_ms.map((ms, i) => (i === 0 ? ms : 0.05));
    const text = (results: ResultsFile) => collectWarnings(buildModel(["x"], [{ file: "t", label: "torch", results }], null)).map((w) => `${w.level} ${w.subject}: ${w.message}`);
    expect(text(impossiblyFast)).toContainEqual(
      expect.stringMatching(/^warning torch \/ short: the median decode step \(0\.050 ms\) is shorter than reading the weights once takes at the device's peak bandwidth \(1\.19 GB at 3\.35 TB\/s: 0\.36 ms\): physically impossible/),
    );
    expect(text(honest).some((t) => t.includes("physically impossible"))).toBe(false);
  });

  it("warns about every runner restart", () => {
    const results = quick("torch_results.json");
    results.restarts.push({ prompt_id: "long", iteration: 2, exit_code: null, signal: "SIGKILL", stderr_tail: "loading\nkilled\n", at: "2026-11-20T12:03:00.000Z" });
    const text = collectWarnings(buildModel(["x"], [{ file: "t", label: "torch", results }], null)).map((w) => `${w.subject}: ${w.message}`);
    expect(text).toContainEqual(expect.stringMatching(/^torch: the runner died on prompt long, run 2 \(SIGKILL\) and was restarted at 2026-11-20T12:03:00\.000Z; .*--allow-restarts\. Last stderr: loading \/ killed$/));
  });
});
