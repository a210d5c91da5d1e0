import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareRuns } from "../cli/compare.ts";
import { FIXTURES_DIR, REPO_ROOT } from "../harness/paths.ts";
import { chooseBaseline } from "../report/comparison.ts";
import { loadResults } from "../report/summary.ts";

const sample = (name: string) => join(FIXTURES_DIR, "results-sample", name);

/** Runs the real CLI (same Node as the tests) and returns its exit status and output. */
function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [join(REPO_ROOT, "bench", "cli", "main.ts"), ...args], { encoding: "utf8", cwd: REPO_ROOT });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("qwen3-bench compare", () => {
  it("exits 1 and names the regression when a framework is significantly slower beyond the noise band", () => {
    const { status, stdout, stderr } = cli("compare", sample("compare-baseline"), sample("compare-slower"));
    expect(status).toBe(1);
    expect(stdout).toMatch(/framework +prompt +baseline tok\/s +new tok\/s +change +ratio 95% CI +p +verdict/);
    // medium: baseline median 61.55 tok/s (10 runs), new runs are baseline × 0.92 ± 0.2 % → −8.0 %;
    // complete separation of 10 vs 10 runs makes the rank test's p tiny.
    expect(stdout).toMatch(/torch +medium +61\.5 +56\.6 +-8\.0 % +0\.9\d\d×–0\.9\d\d× +< 0\.001 +slower/);
    expect(stdout).toMatch(/torch +short +63\.0 +63\.0 +\+0\.0 % .* within noise/);
    expect(stderr).toContain("significant slowdown beyond the noise band: torch/medium 8.0 % slower (p < 0.001)");
  });

  it("exits 0 when every change is within the noise band", () => {
    const { status, stdout } = cli("compare", sample("compare-baseline"), sample("compare-noise"));
    expect(status).toBe(0);
    expect(stdout).toMatch(/torch +short .* -0\.5 % .* within noise/);
    expect(stdout).toMatch(/torch +medium .* \+0\.4 % .* within noise/);
    expect(stdout).toContain("no significant slowdown beyond the noise band");
  });

  it("a noise band wider than the change turns the regression into 'within noise'", () => {
    const { status } = cli("compare", sample("compare-baseline"), sample("compare-slower"), "--noise", "0.1");
    expect(status).toBe(0);
  });

  it("a change beyond the band but not significant is not a regression", () => {
    // 3 runs against 3: the exact rank test cannot go below p = 0.1, so nothing is significant at 0.05.
    const baseline = loadResults([sample("run")]).summaries;
    const slower = baseline.map((s) => ({ ...s, decodeTpsSamples: s.decodeTpsSamples.map((x) => x * 0.8) }));
    const rows = compareRuns(baseline, slower, 0.02, 0.05);
    expect(rows).toHaveLength(9);
    expect(rows.every((r) => r.verdict === "not significant" && r.p >= 0.1)).toBe(true);
  });

  it("rejects bad arguments with usage", () => {
    const { status, stderr } = cli("compare", sample("compare-baseline"));
    expect(status).toBe(1);
    expect(stderr).toContain("give exactly two results folders or files");
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
