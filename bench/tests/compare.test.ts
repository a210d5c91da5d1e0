import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareRuns, ALL_PROMPTS_ROW } from "../cli/compare.ts";
import { FIXTURES_DIR, REPO_ROOT } from "../harness/paths.ts";
import { parseJsonFile } from "../harness/schema/parse.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { chooseBaseline } from "../report/comparison.ts";
import { loadResults } from "../report/summary.ts";

const sample = (name: string) => join(FIXTURES_DIR, "results-sample", name);

/** Runs the real CLI (same Node as the tests) and returns its exit status and output. */
function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [join(REPO_ROOT, "bench", "cli", "main.ts"), ...args], { encoding: "utf8", cwd: REPO_ROOT });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("qwen3-bench compare", () => {
  it("exits 1 and names the regression when a framework is slower beyond the noise band", () => {
    const { status, stdout, stderr } = cli("compare", sample("compare-baseline"), sample("compare-slower"));
    expect(status).toBe(1);
    expect(stdout).toMatch(/framework +prompt +baseline tok\/s +new tok\/s +change +ratio 95% CI +runs × steps +verdict/);
    // The decision rule is printed with the band's edge.
    expect(stdout).toContain('decision: "slower" (exit 1) when the whole interval is below 0.980×');
    // medium: every run's speed × 0.92 (± 0.2 %): the median step latency grows by 1/0.92 → −8.0 %,
    // and 10 runs of 31 steps pin the interval well inside 0.98.
    expect(stdout).toMatch(/torch +medium +61\.\d +56\.\d +-8\.0 % +0\.9[01]\d×–0\.9[23]\d× +10×31 \/ 10×31 +slower/);
    expect(stdout).toMatch(/torch +short +63\.0 +63\.0 +\+0\.0 % .* within noise/);
    expect(stderr).toMatch(/significant slowdown beyond the noise band: torch\/medium 8\.0 % slower \(interval 0\.9\d\d×–0\.9\d\d×\)/);
  });

  it("exits 0 when every change is within the noise band", () => {
    const { status, stdout } = cli("compare", sample("compare-baseline"), sample("compare-noise"));
    expect(status).toBe(0);
    expect(stdout).toMatch(/torch +short .* -0\.5 % .* within noise/);
    expect(stdout).toMatch(/torch +medium .* \+0\.4 % .* within noise/);
    expect(stdout).toContain("no significant slowdown beyond the noise band");
  });

  it("a noise band wider than the change turns the regression into a pass", () => {
    const { status, stdout } = cli("compare", sample("compare-baseline"), sample("compare-slower"), "--noise", "0.1");
    expect(status).toBe(0);
    expect(stdout).toMatch(/torch +medium .* within noise/);
  });

  it("quick profile (3 runs a side): a 20 % slower copy exits 1, a rerun exits 0", () => {
    // The rank test over 3 per-run medians could not go below p = 0.1 here; the step-level gate can.
    const slower = cli("compare", sample("compare-quick-baseline"), sample("compare-quick-slower"));
    expect(slower.status).toBe(1);
    for (const framework of ["torch", "mlx-lm"]) {
      for (const prompt of ["short", "medium", "long"]) expect(slower.stdout).toMatch(new RegExp(`${framework} +${prompt} .* -(19|20|21)\\.\\d % .* 3×31 / 3×31 +slower`));
    }
    // The slower copy was written by another harness commit: compare says so.
    expect(slower.stdout).toContain('warning: torch: besides the label, the two sides differ in:\n  - harness version: "0.1.0+c0ffee1" vs "0.1.0+badc0de"');
    const rerun = cli("compare", sample("compare-quick-baseline"), sample("compare-quick-rerun"));
    expect(rerun.status).toBe(0);
    expect(rerun.stdout).not.toMatch(/slower$/m);
    expect(rerun.stdout).not.toContain("the two sides differ in");
  });

  it("refuses to gate on a case with a runner restart unless --allow-restarts (exit 2)", () => {
    const dir = mkdtempSync(join(tmpdir(), "qwen3-bench-compare-"));
    try {
      cpSync(sample("compare-quick-rerun"), dir, { recursive: true });
      const file = join(dir, "torch_results.json");
      const results = parseJsonFile(file, ResultsFile);
      results.restarts.push({ prompt_id: "medium", iteration: 1, exit_code: null, signal: "SIGKILL", stderr_tail: "killed", at: "2026-11-20T12:01:00.000Z" });
      writeFileSync(file, JSON.stringify(results));
      const refused = cli("compare", sample("compare-quick-baseline"), dir);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain("refusing to gate: a runner restarted during torch/medium (new: SIGKILL at iteration 1, 2026-11-20T12:01:00.000Z)");
      expect(refused.stderr).toContain("--allow-restarts");
      const allowed = cli("compare", sample("compare-quick-baseline"), dir, "--allow-restarts");
      expect(allowed.status).toBe(0);
      expect(allowed.stdout).toContain("note: gating despite runner restarts (--allow-restarts): torch/medium");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("compareRuns gates on step latencies: scaling every step by 1.25 is a 20 % slowdown in every case", () => {
    const baseline = loadResults([sample("run")]).summaries;
    const slower = baseline.map((s) => ({ ...s, runs: s.runs.map((r) => ({ ...r, per_token_latencies_ms: r.per_token_latencies_ms.map((ms) => ms * 1.25) })) }));
    const rows = compareRuns(baseline, slower);
    // 3 frameworks × 3 prompts, then each framework's prompts pooled.
    expect(rows.filter((r) => r.promptId !== ALL_PROMPTS_ROW)).toHaveLength(9);
    expect(rows.filter((r) => r.promptId === ALL_PROMPTS_ROW).map((r) => [r.framework, r.baselineRuns])).toHaveLength(3);
    for (const row of rows) {
      expect(row.ratio).toBeCloseTo(0.8, 12);
      expect(row.verdict).toBe("slower");
    }
  });

  it("rejects bad arguments with usage", () => {
    const { status, stderr } = cli("compare", sample("compare-baseline"));
    expect(status).toBe(1);
    expect(stderr).toContain("give exactly two results folders or files");
    expect(cli("compare", sample("compare-baseline"), sample("compare-noise"), "--statistic", "mode").stderr).toContain("--statistic must be median, mean or a percentile p1..p99 (p10), got mode");
    const p10 = cli("compare", sample("compare-baseline"), sample("compare-slower"), "--statistic", "p10");
    expect(p10.status).toBe(1);
    expect(p10.stdout).toContain("speed ratio NEW/BASELINE = p10 decode-step latency of BASELINE / of NEW");
  });
});

describe("chooseBaseline", () => {
  it("takes the requested label, else torch, else the first; a name picks the first of its lanes' labels", () => {
    expect(chooseBaseline(["mlx-lm", "torch"])).toBe("torch");
    expect(chooseBaseline(["mlx-lm", "burn-cuda"])).toBe("mlx-lm");
    expect(chooseBaseline(["burn-cuda", "torch (gpu0)", "torch (gpu1)"])).toBe("torch (gpu0)");
    expect(chooseBaseline(["burn-cuda", "torch (gpu0)", "torch (gpu1)"], "torch (gpu1)")).toBe("torch (gpu1)");
    expect(chooseBaseline(["burn-cuda", "torch-compile"], "torch-compile")).toBe("torch-compile");
    expect(chooseBaseline(["burn-cuda", "torch-compile"])).toBe("burn-cuda");
    expect(() => chooseBaseline(["burn-cuda"], "torch")).toThrow(/"torch" is not among the frameworks/);
  });
});
