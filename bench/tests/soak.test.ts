// `qwen3-bench soak`: one runner process, many identical requests. On a real runner (burn-cpu, the
// tiny model) through the command line, and on the FAKE runner (fake-runner.mjs) for what must fail:
// a request with other tokens, a runner whose memory grows.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, test, vi } from "vitest";
import { soakCommand } from "../cli/soak.ts";
import { REPO_ROOT } from "../harness/paths.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import type { LaunchSpec } from "../harness/runner-process.ts";
import { SoakFile } from "../harness/schema/soak.ts";
import { burnBinary } from "../harness/setup/burn-build.ts";
import { readSettings } from "../harness/settings.ts";
import { firstDifference, sampledRequests, soakOptions } from "../harness/soak.ts";

const scratch = mkdtempSync(join(tmpdir(), "qwen3-bench-soak-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const readSoak = (file: string): SoakFile => SoakFile.parse(JSON.parse(readFileSync(file, "utf8")));

describe("soak's pure parts", () => {
  test("memory is sampled at the first request, the last and every tenth of the way between", () => {
    expect(sampledRequests(1)).toEqual([0]);
    expect(sampledRequests(5)).toEqual([0, 1, 2, 3, 4]);
    expect(sampledRequests(12)).toEqual([0, 2, 4, 6, 8, 10, 11]);
    expect(Math.max(...Array.from({ length: 200 }, (_, n) => sampledRequests(n + 1).length))).toBe(11);
    expect(sampledRequests(20)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 19]);
    expect(sampledRequests(1000).slice(0, 3)).toEqual([0, 100, 200]);
    expect(sampledRequests(1000).slice(-2)).toEqual([900, 999]);
  });

  test("the first difference names its position and both tokens; a shorter reply differs where it ends", () => {
    expect(firstDifference([1, 2, 3], [1, 2, 3])).toBeNull();
    expect(firstDifference([1, 2, 3], [1, 9, 3])).toEqual({ position: 1, expected: 2, got: 9 });
    expect(firstDifference([1, 2, 3], [1, 2])).toEqual({ position: 2, expected: 3, got: null });
  });

  test("flags are checked with errors that name them", () => {
    const settings = readSettings({});
    expect(() => soakOptions({ requests: "3" }, settings, [])).toThrow(/--framework LABEL is required/);
    expect(() => soakOptions({ framework: "burn-cpu", requests: "0" }, settings, [])).toThrow(/--requests: expected an integer ≥ 1, got "0"/);
    expect(() => soakOptions({ framework: "burn-cpu", requests: "3", "new-tokens": "1" }, settings, [])).toThrow(/--new-tokens: expected an integer ≥ 2/);
    expect(() => soakOptions({ framework: "burn-cpu", requests: "3", "max-growth-mib": "lots" }, settings, [])).toThrow(/--max-growth-mib/);
    expect(soakOptions({ framework: "burn-cpu", requests: "3", "new-tokens": "16", "prompt-id": "short" }, settings, []).outFile).toMatch(/results\/soak-[^/]+\/soak\.json$/);
  });
});

// The real thing, through the command line as a user runs it: Burn's CPU runner (`npm test`'s global
// setup builds it) starts in well under a second on the tiny model.
const burnRequired = (process.env.BENCH_REQUIRE ?? "").split(",").includes("burn-cpu");
describe.skipIf(!existsSync(burnBinary()) && !burnRequired)("soak on a real runner (burn-cpu, tiny model, f32)", () => {
  test("20 requests of 4 tokens: tokens identical, memory sampled, the file and the summary written", () => {
    const out = join(scratch, "burn", "soak.json");
    const cli = spawnSync(process.execPath, [join(REPO_ROOT, "bench", "cli", "main.ts"), "soak", "--framework", "burn-cpu", "--requests", "20", "--new-tokens", "4", "--out", out], {
      env: { ...process.env, MODEL_PATH: TEST_MODELS.tiny, BENCH_DTYPE: "f32" },
      encoding: "utf8",
      timeout: 240_000,
    });
    expect(cli.status, `${cli.stdout}\n${cli.stderr}`).toBe(0);
    expect(cli.stdout).toMatch(/tokens identical/);
    expect(cli.stdout).toMatch(/20 of 20 +yes/);
    expect(cli.stdout).toMatch(/^passed: /m);

    const file = readSoak(out);
    expect(file).toMatchObject({ framework: "burn-cpu", backend: "cpu", precision: "f32", prompt_id: "short", requests: 20, requests_served: 20, new_tokens: 4, tokens_identical: true, first_difference: null, differing_requests: 0, runner_error: null, passed: true, failures: [] });
    expect(file.reference_token_ids).toHaveLength(4);
    expect(file.model.path).toBe(TEST_MODELS.tiny);
    expect(file.samples.map((s) => s.request)).toEqual(sampledRequests(20));
    expect(file.decode_tps_first).toBeGreaterThan(0);
    expect(file.decode_tps_last).toBeGreaterThan(0);
    // The harness's own measurement (RSS on a CPU) and the runner's reported peak RSS, both present.
    const series = file.memory.map((m) => m.series);
    expect(series).toContain("runner_peak_rss");
    if (process.platform === "linux") expect(file.memory.find((m) => m.series === "process")).toMatchObject({ source: "rss" });
    for (const m of file.memory) expect(m.growth_mib).toBeCloseTo(m.last_mib - m.first_mib, 6);
    // The runner's results file beside it: what ran, from the same code as the benchmark.
    expect(existsSync(join(scratch, "burn", file.results_file))).toBe(true);
  }, 300_000);
});

const FAKE = join(import.meta.dirname, "fake-runner.mjs");
const fake = (mode: string) => async (): Promise<LaunchSpec> => ({ framework: "fake", command: process.execPath, args: [FAKE, `--mode=${mode}`] });

describe("soak faults (FAKE runner)", () => {
  afterEach(() => vi.unstubAllEnvs());
  const soak = (mode: string, out: string, requests = "12") => {
    vi.stubEnv("MODEL_PATH", TEST_MODELS.tiny);
    vi.stubEnv("BENCH_DTYPE", "f32");
    return soakCommand(["--framework", "fake", "--requests", requests, "--new-tokens", "4", "--out", out], fake(mode));
  };

  test("a request with other tokens fails the soak, naming the request and the position", async () => {
    const out = join(scratch, "diverge", "soak.json");
    await expect(soak("diverge-at=7", out)).rejects.toThrow(/tokens changed: request 7 differs from request 0 at position 2 \(102 → 202\); 1 of 12 requests differ/);
    expect(readSoak(out)).toMatchObject({ tokens_identical: false, first_difference: { request: 7, position: 2, expected: 102, got: 202 }, requests_served: 12, passed: false });
  });

  test("memory that grows past --max-growth-mib fails the soak; the same growth under a higher limit passes", async () => {
    const out = join(scratch, "grow", "soak.json");
    await expect(soak("rss-growth=8", out)).rejects.toThrow(/memory grew: runner_peak_rss \(peak_rss_bytes\) 1\.0 → 89\.0 MiB, \+88\.0 MiB \(limit 64 MiB\)/);
    expect(readSoak(out).memory.find((m) => m.series === "runner_peak_rss")).toMatchObject({ first_mib: 1, last_mib: 89, max_mib: 89, growth_mib: 88 });
    await expect(soakCommand(["--framework", "fake", "--requests", "12", "--new-tokens", "4", "--max-growth-mib", "100", "--out", out], fake("rss-growth=8"))).resolves.toBeUndefined();
  });

  test("a runner that dies mid-soak ends it (no restart), with the request it died on", async () => {
    const out = join(scratch, "crash", "soak.json");
    await expect(soak("crash-after=5", out)).rejects.toThrow(/the runner failed after 5 of 12 requests: request 5: .*simulated crash/s);
    expect(readSoak(out)).toMatchObject({ requests_served: 5, passed: false });
  });
});
