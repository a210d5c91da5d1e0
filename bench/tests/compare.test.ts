import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES_DIR, REPO_ROOT } from "../harness/paths.ts";
import { resultsFileName } from "../harness/results-writer.ts";
import { parseJsonFile } from "../harness/schema/parse.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { acrossRuns, baselineOf, chooseBaseline, fastestLabel } from "../report/cases.ts";
import { ALL_PROMPTS, compareCases } from "../report/comparison.ts";
import { loadResults, type ResultsModel } from "../report/summary.ts";

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
    expect(stdout).toMatch(/Prompt +Candidate +Baseline +Baseline tok\/s +Candidate tok\/s +Speed ratio +95 % CI +Evidence +Verdict/);
    // The decision rule is printed with the band's edge.
    expect(stdout).toContain('decision (every row gates): "slower" (exit 1) when the whole interval is below 0.980×');
    // medium: every run's speed × 0.92 (± 0.2 %): the median step latency grows by 1/0.92 → −8.0 %,
    // and 10 runs of 31 steps pin the interval well inside 0.98.
    expect(stdout).toMatch(/medium +torch +torch +61\.\d +56\.\d +0\.920× +0\.9[01]\d×–0\.9[23]\d× +10×31 \/ 10×31 +slower/);
    expect(stdout).toMatch(/short +torch +torch +63\.0 +63\.0 +1\.000× .* within noise/);
    expect(stderr).toMatch(/significant slowdown beyond the noise band: torch\/medium 8\.0 % slower \(interval 0\.9\d\d×–0\.9\d\d×\)/);
  });

  it("exits 0 when every change is within the noise band", () => {
    const { status, stdout } = cli("compare", sample("compare-baseline"), sample("compare-noise"));
    expect(status).toBe(0);
    expect(stdout).toMatch(/short +torch +torch .* 0\.995× .* within noise/);
    expect(stdout).toMatch(/medium +torch +torch .* 1\.004× .* within noise/);
    expect(stdout).toContain("no significant slowdown beyond the noise band");
  });

  it("a noise band wider than the change turns the regression into a pass", () => {
    const { status, stdout } = cli("compare", sample("compare-baseline"), sample("compare-slower"), "--noise", "0.1");
    expect(status).toBe(0);
    expect(stdout).toMatch(/medium +torch +torch .* within noise/);
  });

  it("quick profile (3 runs a side): a 20 % slower copy exits 1, a rerun exits 0", () => {
    // The rank test over 3 per-run medians could not go below p = 0.1 here; the step-level gate can.
    const slower = cli("compare", sample("compare-quick-baseline"), sample("compare-quick-slower"));
    expect(slower.status).toBe(1);
    for (const framework of ["torch", "mlx-lm"]) {
      for (const prompt of ["short", "medium", "long"]) expect(slower.stdout).toMatch(new RegExp(`${prompt} +${framework} +${framework} .* 0\\.(7[89]|8[01])\\d× .* 3×31 / 3×31 +slower`));
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
      expect(refused.stderr).toContain("refusing to gate: a runner restarted during torch/medium (candidate: SIGKILL at iteration 1, 2026-11-20T12:01:00.000Z)");
      expect(refused.stderr).toContain("--allow-restarts");
      const allowed = cli("compare", sample("compare-quick-baseline"), dir, "--allow-restarts");
      expect(allowed.status).toBe(0);
      expect(allowed.stdout).toContain("note: gating despite runner restarts (--allow-restarts): torch/medium");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the engine gates on step latencies: scaling every step by 1.25 is a 20 % slowdown in every case", () => {
    const baseline = loadResults([sample("run")]);
    const slower = { ...baseline, summaries: baseline.summaries.map((s) => ({ ...s, runs: s.runs.map((r) => ({ ...r, per_token_latencies_ms: r.per_token_latencies_ms.map((ms) => ms * 1.25) })) })) };
    const rows = compareCases(acrossRuns(baseline, slower).cases, "independent");
    // 3 frameworks × 3 prompts, then each framework's prompts pooled.
    expect(rows.filter((r) => r.promptId !== ALL_PROMPTS)).toHaveLength(9);
    expect(rows.filter((r) => r.promptId === ALL_PROMPTS)).toHaveLength(3);
    for (const row of rows) {
      expect(row.ratio.estimate).toBeCloseTo(0.8, 12);
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
    expect(p10.stdout).toContain("speed ratio candidate/baseline = p10 decode-step latency of the baseline / of the candidate");
  });
});

describe("qwen3-bench ab", () => {
  /** An A/B folder: torch's quick-profile runs as torch@base, another run's as torch@head (same iterations). */
  function abFolder(head: string, restart = false): string {
    const dir = mkdtempSync(join(tmpdir(), "qwen3-bench-ab-"));
    for (const [label, from] of [["torch@base", "compare-quick-baseline"], ["torch@head", head]]) {
      const results = parseJsonFile(join(sample(from), "torch_results.json"), ResultsFile);
      results.framework = label;
      if (restart && label === "torch@head") results.restarts.push({ prompt_id: null, iteration: null, exit_code: 1, signal: null, stderr_tail: "", at: "2026-11-20T12:00:00.000Z" });
      writeFileSync(join(dir, resultsFileName(label)), JSON.stringify(results));
    }
    return dir;
  }

  it("reads the same table and verdicts as compare, pair by pair; exits 1 on the pooled slowdown, 2 on a restart", () => {
    const dirs = [abFolder("compare-quick-slower"), abFolder("compare-quick-rerun"), abFolder("compare-quick-slower", true)];
    try {
      const slower = cli("ab", dirs[0]);
      expect(slower.status).toBe(1);
      expect(slower.stdout).toMatch(/Prompt +Candidate +Baseline +Baseline tok\/s +Candidate tok\/s +Speed ratio +95 % CI +Evidence +Verdict/);
      expect(slower.stdout).toContain('decision (each pair of labels\' "all prompts" row gates, or its one prompt\'s)');
      expect(slower.stdout).toMatch(/all prompts +torch@head +torch@base .* 0\.(7[89]|8[01])\d× .* 9 pairs +slower/);
      expect(slower.stderr).toMatch(/significant slowdown beyond the noise band: torch@head vs torch@base\/all prompts (19|20|21)\.\d % slower/);
      expect(cli("ab", dirs[1]).status).toBe(0);
      const restarted = cli("ab", dirs[2]);
      expect(restarted.status).toBe(2);
      expect(restarted.stderr).toContain("refusing to gate: a runner restarted during torch@head/short (candidate: exit 1 at start-up");
      expect(cli("ab", dirs[2], "--allow-restarts").status).toBe(1);
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("fastestLabel (the ratio table's default baseline)", () => {
  // Only what fastestLabel reads: labels in order, and each (label, prompt)'s median decode speed.
  const model = (labels: string[], medians: Array<[string, string, number]>) =>
    ({ labels, summaries: medians.map(([label, promptId, median]) => ({ label, promptId, decodeTps: { estimate: median } })) }) as unknown as ResultsModel;

  it("picks the highest geometric mean of the per-prompt medians, never the slowest or the first in sort order", () => {
    const headline = model(["burn-cuda", "burn-cuda[kernels=custom]", "torch-fast"], [
      ["burn-cuda", "short", 117], ["burn-cuda", "long", 114],
      ["burn-cuda[kernels=custom]", "short", 847], ["burn-cuda[kernels=custom]", "long", 664],
      ["torch-fast", "short", 695], ["torch-fast", "long", 692],
    ]);
    expect(fastestLabel(headline)).toBe("burn-cuda[kernels=custom]");
    // A geometric mean, not the best single prompt: 900 and 400 (600) lose to 700 and 700.
    expect(fastestLabel(model(["a", "b"], [["a", "short", 900], ["a", "long", 400], ["b", "short", 700], ["b", "long", 700]]))).toBe("b");
  });

  it("prefers the labels measured on the most prompts, and says null when nothing was measured", () => {
    expect(fastestLabel(model(["a", "b"], [["a", "short", 2000], ["b", "short", 600], ["b", "long", 500]]))).toBe("b");
    expect(fastestLabel(model(["a", "b"], [["a", "short", 0], ["b", "short", 10]]))).toBe("b");
    expect(fastestLabel(model(["a", "b"], []))).toBeNull();
    // Equals: the first in the model's order.
    expect(fastestLabel(model(["a", "b"], [["a", "short", 5], ["b", "short", 5]]))).toBe("a");
  });
});

describe("baselineOf (an A/B run's baseline among one framework's labels)", () => {
  it("takes the plain label, else the build named base, else the fewest runner flags", () => {
    expect(baselineOf(["burn-cuda", "burn-cuda[kernels=custom]"])).toBe("burn-cuda");
    expect(baselineOf(["burn-cpu@base", "burn-cpu@head"])).toBe("burn-cpu@base");
    expect(baselineOf(["burn-cuda[kernels=custom,chunk-attention=burn]", "burn-cuda[kernels=custom,split-from=256]", "burn-cuda[kernels=custom]"])).toBe("burn-cuda[kernels=custom]");
    expect(baselineOf(["burn-cuda[kernels=custom]", "burn-cuda[memory-plan=default]"])).toBe("burn-cuda[kernels=custom]");
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
