import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES_DIR } from "../harness/paths.ts";
import { parseJsonFile } from "../harness/schema/parse.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { knownBandwidth } from "../harness/host/hw-bandwidth.ts";
import { collectHwInfo, parseNvidiaSmi } from "../harness/host/hw-info.ts";
import { HwInfo } from "../harness/schema/hw-info.ts";
import { bandwidthFor, buildModel, loadResultsDir, resultsFilesIn, type ResultsModel } from "../report/summary.ts";
import { computeAgreement, verifyText } from "../report/verify.ts";
import BenchReportReporter from "../report/vitest-reporter.ts";
import { collectWarnings } from "../report/warnings.ts";
import { writeReport } from "../report/write-report.ts";

const SAMPLE_DIR = join(FIXTURES_DIR, "results-sample", "run");
const CHART_FILES = ["decode_tps_bar.png", "ttft_bar.png", "latency_cdf.png", "latency_by_position.png"];

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(bytes.subarray(12, 16).toString("ascii")).toBe("IHDR");
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

let work: string;
let model: ResultsModel;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "qwen3-bench-report-"));
  cpSync(SAMPLE_DIR, work, { recursive: true });
  // Text from a results file must never become markup: a hostile device name and version.
  const torchFile = join(work, "torch_results.json");
  const torch = parseJsonFile(torchFile, ResultsFile);
  torch.device = 'NVIDIA H100 80GB HBM3 <script>alert("pwned")</script>';
  torch.framework_version = "2.9.0 <img src=x onerror=alert(1)>";
  writeFileSync(torchFile, JSON.stringify(torch));
  model = loadResultsDir(SAMPLE_DIR);
  await writeReport(work);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("sample results", () => {
  it("every committed fixture validates against the ResultsFile schema", () => {
    const files = ["run", "compare-baseline", "compare-noise", "compare-slower"].flatMap((d) => resultsFilesIn(join(FIXTURES_DIR, "results-sample", d)));
    expect(files.length).toBe(6);
    for (const file of files) expect(() => parseJsonFile(file, ResultsFile)).not.toThrow();
    expect(() => parseJsonFile(join(SAMPLE_DIR, "hw_info.json"), HwInfo)).not.toThrow();
  });
});

describe("summary", () => {
  it("orders frameworks and prompts", () => {
    expect(model.labels).toEqual(["burn-cpu", "mlx-lm", "torch"]);
    expect(model.promptIds).toEqual(["short", "medium", "long"]);
    expect(model.summaries).toHaveLength(9);
  });

  it("torch / short matches numbers computed by hand", () => {
    const s = model.summaries.find((x) => x.label === "torch" && x.promptId === "short")!;
    // Fixture: three timed runs at 62, 64, 63 tok/s, each with all 31 decode steps equal (1000 / tps ms),
    // TTFT 14.2 ms × (1, 1.02, 1.04), 28 prompt tokens, harness overhead 0.2, 0.3, 0.4 ms.
    expect(s.decodeTpsSamples).toEqual([62, 64, 63]);
    expect(s.decodeTps.estimate).toBe(63);
    // Bootstrap of 3 values: P(resample median = 62) = P(≥ 2 of 3 draws are 62) = 7/27 ≈ 0.26 > 0.025,
    // likewise for 64, so the 95 % interval is [62, 64].
    expect([s.decodeTps.low, s.decodeTps.high]).toEqual([62, 64]);
    expect(s.ttftMs).toBeCloseTo(14.484, 9); // median of 14.2, 14.484, 14.768
    expect(s.prefillTps).toBeCloseTo(28 / 0.014484, 6); // 1933.17 tok/s
    // 93 pooled steps: 31 × 1000/64, 31 × 1000/63, 31 × 1000/62 (ascending). p50: h = 46 → middle block;
    // p90: h = 82.8 and p99: h = 91.08 → both in the last block.
    expect(s.stepLatencyMs.steps).toBe(93);
    expect(s.stepLatencyMs.p50).toBeCloseTo(1000 / 63, 9); // 15.873 ms
    expect(s.stepLatencyMs.p90).toBeCloseTo(1000 / 62, 9); // 16.129 ms
    expect(s.stepLatencyMs.p99).toBeCloseTo(1000 / 62, 9);
    // 63 tok/s × 596,049,920 params × 2 bytes (bf16) / 3.35e12 B/s (H100 SXM) = 0.022419.
    expect(s.bandwidthShare).toBeCloseTo(0.022418594, 8);
    expect(s.bandwidth?.source).toBe("hw_info.json (known-chip table)");
    expect(s.harnessOverheadMs).toBeCloseTo(0.3, 12);
    expect(s.peakRssMb).toBe(1893.4);
    expect(s.peakDeviceMb).toBe(1262.8);
    expect(s.joulesPerToken).toBeNull();
  });

  it("a device named by its API (wgpu) gets the host's GPU bandwidth when its GPUs are alike, none when they differ", () => {
    const torch = model.files.find((f) => f.label === "torch")!;
    const wgpu = { ...torch.results, backend: "wgpu-vulkan", device: "wgpu DefaultDevice" };
    const h100 = model.hwInfo!.gpus.find((g) => g.bandwidth_bytes_per_s !== null)!;
    const hw = (gpus: (typeof h100)[]) => ({ ...model.hwInfo!, gpus });
    expect(bandwidthFor(wgpu, hw([h100, { ...h100 }]))?.bytesPerS).toBe(h100.bandwidth_bytes_per_s);
    expect(bandwidthFor(wgpu, hw([h100, { ...h100, name: "NVIDIA H200", bandwidth_bytes_per_s: 4.8e12 }]))).toBeNull();
  });

  it("CPU backends get no bandwidth share without a known host bandwidth", () => {
    expect(model.summaries.filter((s) => s.backend === "cpu").every((s) => s.bandwidthShare === null)).toBe(true);
  });

  it("reports joules per token once runs carry energy", () => {
    const files = model.files.map((f) => ({
      ...f,
      results: { ...f.results, runs: f.results.runs.map((r) => ({ ...r, gpu_energy_joules: 6.4 })) },
    }));
    const withEnergy = buildModel(["x"], files, model.hwInfo);
    expect(withEnergy.summaries[0].joulesPerToken).toBeCloseTo(6.4 / 32, 12);
  });
});

describe("warnings", () => {
  const warnings = () => collectWarnings(model);

  it("flags the suspect measurements in the sample", () => {
    const text = warnings().map((w) => `${w.level} ${w.subject}: ${w.message}`);
    expect(text).toContainEqual(expect.stringMatching(/^warning mlx-lm \/ short: the 95 % confidence interval .* spans 16\.5 % of the median/));
    // 21.0 → 25.1 tok/s: 25.1 / 21.0 − 1 = 19.5 % more time per token in the first run.
    expect(text).toContainEqual(expect.stringMatching(/^warning mlx-lm \/ short: the first timed run was 19\.5 % slower/));
    expect(text).toContainEqual(expect.stringMatching(/^warning burn-cpu \/ long: greedy tokens fail the agreement check against torch: first divergence at token 3/));
    expect(text).toContainEqual(expect.stringMatching(/^warning burn-cpu: runs on the CPU .* while torch runs on an accelerator/));
    expect(text).toContainEqual(expect.stringMatching(/^note all: the weights are synthetic/));
    expect(text.some((t) => t.startsWith("warning torch"))).toBe(false);
  });

  it("detects monotone drift over five or more runs", () => {
    const files = model.files.map((f) => ({
      ...f,
      results: { ...f.results, runs: f.label === "torch" ? [64, 63.5, 63, 62.4, 61.9].map((tps, i) => ({ ...f.results.runs[0], iteration: i, decode_tps: tps })) : f.results.runs },
    }));
    const text = collectWarnings(buildModel(["x"], files, null)).map((w) => `${w.subject}: ${w.message}`);
    expect(text).toContainEqual(expect.stringMatching(/^torch \/ short: decode speed fell with every one of the 5 timed runs \(64\.0 → 61\.9 tok\/s\)/));
  });
});

describe("verify", () => {
  it("compares tokens with the reference and carries the agreement records", () => {
    const report = computeAgreement(model);
    expect(report.reference).toBe("torch");
    const burnLong = report.rows.find((r) => r.label === "burn-cpu" && r.promptId === "long")!;
    expect(burnLong).toMatchObject({ identical: false, firstDivergence: 3, top1Agreement: 0.875, passed: false, runsConsistent: true });
    const mlxLong = report.rows.find((r) => r.label === "mlx-lm" && r.promptId === "long")!;
    expect(mlxLong).toMatchObject({ identical: true, firstDivergence: null, matchShare: 1 });
    const text = verifyText(model);
    expect(text).toMatch(/prompt long\n {2}burn-cpu {2}diverges at token 3 \(torch \d+, burn-cpu \d+\); 34\.4 % of positions match; teacher-forced top-1 87\.5 %; FAILED/);
    expect(text).toContain("mlx-lm    identical (32/32 tokens); teacher-forced top-1 100.0 %; passed");
  });
});

describe("written report", () => {
  const read = (file: string) => readFileSync(join(work, file), "utf8");

  it("report.md has setup, a table per prompt, ratios and warnings", () => {
    const md = read("report.md");
    expect(md).toContain("> **Synthetic weights.**");
    expect(md).toContain("- **GPU:** NVIDIA H100 80GB HBM3: 80 GiB, driver 570.133.20, power limit 700 W, 3.35 TB/s (known-chip table)");
    expect(md).toContain("- **Profile:** quick: 32 new tokens, 1 warm-up + 3 timed runs per prompt, 0 s cool-down");
    for (const id of ["short", "medium", "long"]) expect(md).toContain(`### Prompt \`${id}\``);
    expect(md).toContain("### Prompt `short` (28 prompt tokens, 32 new tokens)");
    expect(md).toContain("| torch | 63.0 | 62.0–64.0 | 14.5 | 1933 | 15.9 / 16.1 / 16.1 | not measured | 1893 | 1263 | 2.2 % | 0.30 | not measured | 3 |");
    expect(md).toContain("## Relative to torch");
    // The engine of `compare`: median step latency of torch / of mlx-lm, 3 runs × 31 steps a side, and its verdict.
    expect(md).toMatch(/\| short \| mlx-lm \| torch \| [0-9.]+ \| [0-9.]+ \| 0\.\d{3}× \| [0-9.]+×–[0-9.]+× \| 3×31 \/ 3×31 \| slower \|/);
    expect(md).toMatch(/\| all prompts \| mlx-lm \| torch \| .* \| 9×31 \/ 9×31 \| slower \|/);
    expect(md).toContain("**warning** (burn-cpu / long): greedy tokens fail the agreement check");
    for (const chart of CHART_FILES) expect(md).toContain(`![${chart}](${chart})`);
    expect(md).not.toContain("<script>");
  });

  it("report.html escapes text from the results", () => {
    const html = read("report.html");
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;");
    expect(html).toContain("2.9.0 &lt;img src=x onerror=alert(1)&gt;");
    expect(html.match(/<img src="data:image\/png;base64,/g)).toHaveLength(4);
  });

  it("writes verify.txt and four valid PNGs of plausible size", () => {
    expect(read("verify.txt")).toContain("Greedy-token agreement with the reference framework: torch");
    for (const chart of CHART_FILES) {
      const png = readFileSync(join(work, chart));
      const { width, height } = pngSize(png);
      expect(width).toBeGreaterThan(800);
      expect(width).toBeLessThan(4000);
      expect(height).toBeGreaterThan(500);
      expect(height).toBeLessThan(3000);
      expect(png.length).toBeGreaterThan(20_000);
    }
  });
});

describe("hardware info", () => {
  it("parses nvidia-smi's CSV and looks up bandwidths in the known-chip table", () => {
    // First line as printed by nvidia-smi 580.159.04 on an H100 SXM machine.
    const gpus = parseNvidiaSmi([["NVIDIA H100 80GB HBM3", "580.159.04", "81559", "700.00"], ["NVIDIA H100 PCIe", "570.133.20", "81559", "350.00"]], 16);
    expect(gpus.map((g) => [g.name, g.bandwidth_bytes_per_s, g.memory_mb, g.power_limit_w])).toEqual([
      ["NVIDIA H100 80GB HBM3", 3.35e12, 81559, 700],
      ["NVIDIA H100 PCIe", 2.0e12, 81559, 350],
    ]);
    expect(gpus[0].bandwidth_source).toBe("known-chip table");
    expect(knownBandwidth("NVIDIA H200")).toBe(4.8e12);
    expect(knownBandwidth("NVIDIA A100-SXM4-40GB")).toBe(1.555e12);
    expect(knownBandwidth("NVIDIA A100-SXM4-80GB")).toBe(2.039e12);
    expect(knownBandwidth("NVIDIA GeForce RTX 4090")).toBe(1008e9);
    expect(knownBandwidth("NVIDIA GeForce RTX 3080", { memoryMb: 12288 })).toBe(912e9);
    expect(knownBandwidth("Apple M3 Max", { cpuCores: 14 })).toBe(300e9);
    expect(knownBandwidth("Apple M3 Max", { cpuCores: 16 })).toBe(400e9);
    expect(knownBandwidth("Apple M1")).toBe(68.25e9);
    expect(knownBandwidth("Apple M4 Pro")).toBe(273e9);
    expect(knownBandwidth("Intel Xeon Platinum 8480+")).toBeNull();
  });

  it("collectHwInfo returns a valid HwInfo on this machine", async () => {
    const info = await collectHwInfo();
    expect(HwInfo.parse(info)).toEqual(info);
    expect(info.cpu.cores).toBeGreaterThan(0);
  });
});

describe("vitest reporter", () => {
  it("writes the report into the run folder at run end, and nothing for a folder without results", async () => {
    const withResults = mkdtempSync(join(tmpdir(), "qwen3-bench-reporter-"));
    const empty = mkdtempSync(join(tmpdir(), "qwen3-bench-reporter-empty-"));
    const saved = { run: process.env.QWEN3_BENCH_RUN_DIR, results: process.env.BENCH_RESULTS_DIR };
    try {
      cpSync(join(FIXTURES_DIR, "results-sample", "compare-baseline"), withResults, { recursive: true });
      // The harness's run folder wins; a BENCH_RESULTS_DIR without results files in it is ignored.
      process.env.QWEN3_BENCH_RUN_DIR = withResults;
      process.env.BENCH_RESULTS_DIR = empty;
      await new BenchReportReporter().onTestRunEnd();
      expect(existsSync(join(withResults, "report.html"))).toBe(true);
      expect(existsSync(join(withResults, "decode_tps_bar.png"))).toBe(true);
      process.env.QWEN3_BENCH_RUN_DIR = empty;
      await new BenchReportReporter().onTestRunEnd();
      expect(readdirSync(empty)).toEqual([]);
    } finally {
      for (const [name, value] of [["QWEN3_BENCH_RUN_DIR", saved.run], ["BENCH_RESULTS_DIR", saved.results]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      rmSync(withResults, { recursive: true, force: true });
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
