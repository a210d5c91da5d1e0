// Precision as a dimension (BENCH_DTYPE=f16,bf16): each (framework, dtype) is its own label
// (`mlx-lm[dtype=bf16]`), runner process, results file and report row; a framework that computes
// in one dtype only is skipped at another with that reason; the report groups rows by precision.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { frameworkByName } from "../harness/frameworks.ts";
import { PROMPTS_FILE } from "../harness/paths.ts";
import { selectFrameworks } from "../harness/plan.ts";
import { dtypeUnsupported, expandByDtype, labelDtype, parseDtypes, withoutDtype } from "../harness/precision.ts";
import { TEST_MODELS } from "../harness/prepare.ts";
import { loadPromptsFile } from "../harness/prompts-file.ts";
import { ResultsFile } from "../harness/schema/results.ts";
import { FrameworkSession } from "../harness/session.ts";
import { readSettings } from "../harness/settings.ts";
import { PromptTokenizer } from "../harness/tokenize.ts";
import { launchVariant, probeVariant, resolveVariant } from "../harness/variants.ts";
import { reportDocument } from "../report/layout.ts";
import { precisionGroups } from "../report/precision.ts";
import { loadResultsDir } from "../report/summary.ts";
import { tinyPlan } from "./tiny-plan.ts";

describe("BENCH_DTYPE", () => {
  test("one dtype or several, in the order given; a bad one names the knob", () => {
    expect(readSettings({})).toMatchObject({ dtype: "f16", dtypes: ["f16"] });
    expect(readSettings({ BENCH_DTYPE: "bf16" })).toMatchObject({ dtype: "bf16", dtypes: ["bf16"] });
    expect(readSettings({ BENCH_DTYPE: "f16, bf16,f16" })).toMatchObject({ dtype: "f16", dtypes: ["f16", "bf16"] });
    expect(() => parseDtypes("f16,fp8")).toThrow(/BENCH_DTYPE: "fp8" is not a dtype \(f16, bf16, f32\)/);
    expect(() => readSettings({ BENCH_DTYPE: "," })).toThrow(/BENCH_DTYPE/);
  });

  test("several dtypes make each framework one label per dtype, the reference's first; one dtype leaves labels as they are", () => {
    const labels = (env: Record<string, string>) => selectFrameworks(readSettings(env)).map((v) => v.label);
    expect(labels({ BENCH_FRAMEWORKS: "burn-cpu,torch" })).toEqual(["torch", "burn-cpu"]);
    expect(labels({ BENCH_FRAMEWORKS: "burn-cpu,torch", BENCH_DTYPE: "f16,bf16" })).toEqual(["torch[dtype=f16]", "torch[dtype=bf16]", "burn-cpu[dtype=f16]", "burn-cpu[dtype=bf16]"]);
    // A label that names its own dtype keeps it.
    expect(expandByDtype(["mlx-lm[device=cpu]", "torch[dtype=f32]"], ["f16", "bf16"])).toEqual(["mlx-lm[device=cpu,dtype=f16]", "mlx-lm[device=cpu,dtype=bf16]", "torch[dtype=f32]"]);
    expect(withoutDtype("mlx-lm[device=cpu,dtype=bf16]@head")).toBe("mlx-lm[device=cpu]@head");
  });

  test("the dtype flag is the harness's: not a runner argument, it sets --dtype; a bad value is one error", async () => {
    const v = resolveVariant("mlx-lm[dtype=bf16,device=cpu]");
    expect(v.label).toBe("mlx-lm[device=cpu,dtype=bf16]");
    expect(v.dtype).toBe("bf16");
    expect(v.flags).toEqual([["device", "cpu"]]);
    expect(labelDtype(v.label)).toBe("bf16");
    expect(() => resolveVariant("mlx-lm[dtype=fp8]")).toThrow(/BENCH_FRAMEWORKS: mlx-lm\[dtype=fp8\]: flag dtype takes f16 or bf16 or f32/);
    if ((await probeVariant(v)).available) {
      const spec = await launchVariant(v, TEST_MODELS.tiny, "f16");
      expect(spec.args.join(" ")).toContain("--dtype bf16");
      expect(spec.args).toContain("--device");
    }
  });

  test("a framework that computes in f32 only is skipped at bf16 with that reason", async () => {
    const burnMlx = frameworkByName("burn-mlx");
    expect(dtypeUnsupported(burnMlx, "bf16")).toMatch(/^burn-mlx cannot run bf16: it computes in f32 only \(burn-mlx 0\.1\.2's float element is f32/);
    expect(dtypeUnsupported(burnMlx, "f32")).toBeNull();
    expect(dtypeUnsupported(frameworkByName("mlx-lm"), "bf16")).toBeNull();
    const probe = await probeVariant(resolveVariant("burn-mlx[dtype=bf16]"));
    expect(probe.available).toBe(false);
  });
});

const mlxLm = await probeVariant(resolveVariant("mlx-lm"));

test.skipIf(!mlxLm.available)("mlx-lm at f16 and bf16 (tiny model, CPU): two runner processes and results files, each at its dtype; the report groups them by precision", async () => {
  const runDir = mkdtempSync(join(tmpdir(), "qwen3-bench-dtype-"));
  const prompt = new PromptTokenizer(TEST_MODELS.tiny).tokenize(loadPromptsFile(PROMPTS_FILE).prompts.prompts[0]);
  const plan = tinyPlan(runDir, { dtype: "f16", profile: { max_new_tokens: 8, warmup_iterations: 1, timed_iterations: 2, cooldown_secs: 0 }, prompts: [prompt] });
  for (const label of ["mlx-lm[dtype=f16]", "mlx-lm[dtype=bf16]"]) {
    const session = new FrameworkSession(plan, label);
    try {
      for (let i = 0; i < 3; i++) await session.measure(prompt, i);
    } finally {
      await session.close();
    }
  }
  const file = (stem: string) => ResultsFile.parse(JSON.parse(readFileSync(join(runDir, `${stem}_results.json`), "utf8")));
  const f16 = file("mlx-lm.dtype=f16");
  const bf16 = file("mlx-lm.dtype=bf16");
  expect([f16.framework, f16.precision, f16.requested_precision, f16.ready.dtype]).toEqual(["mlx-lm[dtype=f16]", "f16", "f16", "f16"]);
  expect([bf16.framework, bf16.precision, bf16.requested_precision, bf16.ready.dtype]).toEqual(["mlx-lm[dtype=bf16]", "bf16", "bf16", "bf16"]);
  expect(bf16.runs).toHaveLength(2);

  const model = loadResultsDir(runDir);
  expect(precisionGroups(model)).toEqual(["bf16", "f16"]);
  const doc = reportDocument({ model, warnings: [], charts: [], verify: "", options: {} });
  const decode = doc.sections.find((s) => s.title.join("") === "Decode speed per prompt")!;
  const blocks = decode.subsections[0].blocks;
  expect(blocks.filter((b) => b.kind === "paragraph").map((b) => JSON.stringify(b))).toEqual([
    JSON.stringify({ kind: "paragraph", text: ["Precision: ", { code: "bf16" }] }),
    JSON.stringify({ kind: "paragraph", text: ["Precision: ", { code: "f16" }] }),
  ]);
  const rows = blocks.filter((b) => b.kind === "table").map((b) => (b.kind === "table" ? b.table.rows.map((r) => r[0]) : []));
  expect(rows).toEqual([["mlx-lm[dtype=bf16]"], ["mlx-lm[dtype=f16]"]]);
}, 600_000);
