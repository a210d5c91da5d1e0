// "Match share" has one definition (harness/agreement.ts), used by the bench's agreement records and
// by verify.txt alike; a row at another dtype than the reference's is judged by teacher-forced top-1.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { checkAgreement, CROSS_PRECISION_MIN_TOP1, CROSS_PRECISION_MIN_TOP1_NOISY, crossPrecisionMinTop1, firstDivergence, matchShare } from "../harness/agreement.ts";
import type { Dtype } from "../harness/schema/model-config.ts";
import { FIXTURES_DIR } from "../harness/paths.ts";
import { buildModel, loadResultsDir } from "../report/summary.ts";
import { computeAgreement } from "../report/verify.ts";

describe("matchShare", () => {
  test("counts equal ids over the longer sequence; a missing position is a mismatch", () => {
    expect(matchShare([1, 9, 3, 9], [1, 2, 3, 4])).toBe(0.5);
    // 2 of 3 positions: the candidate stopped one token early ...
    expect(matchShare([1, 2], [1, 2, 3])).toBeCloseTo(2 / 3, 15);
    // ... or ran one token long: the same share, whichever sequence is the reference.
    expect(matchShare([1, 2, 3], [1, 2])).toBeCloseTo(2 / 3, 15);
    expect(matchShare([], [])).toBe(1);
    expect(matchShare([], [5])).toBe(0);
    expect(matchShare([7, 7, 7, 7, 7], [7, 7, 7, 7, 7])).toBe(1);
  });

  test("firstDivergence is where they first differ, or the shorter length, or null when identical", () => {
    expect(firstDivergence([1, 2, 3], [1, 2, 3])).toBeNull();
    expect(firstDivergence([1, 2, 4], [1, 2, 3])).toBe(2);
    expect(firstDivergence([1, 2], [1, 2, 3])).toBe(2);
    expect(firstDivergence([], [])).toBeNull();
  });
});

test("verify.txt's match share equals the bench's agreement record for the same tokens", () => {
  const sample = loadResultsDir(join(FIXTURES_DIR, "results-sample", "run"));
  const torch = sample.files.find((f) => f.label === "torch")!;
  const burn = sample.files.find((f) => f.label === "burn-cpu")!;
  const referenceTokens = torch.results.runs.find((r) => r.prompt_id === "long")!.token_ids;
  // A candidate that diverges at 3 and generated two tokens fewer than the reference.
  const tokens = [...referenceTokens.slice(0, 3), ...referenceTokens.slice(3, -2).map((id) => id + 1)];
  const config = { f32_exact: false, min_top1_agreement: 0.9, min_first_divergence: 3, top_k: 5 };
  const record = checkAgreement({ promptId: "long", reference: "torch", referenceTokens, tokens, teacherForcedArgmax: null, dtype: "f16", config });
  expect(record.match_share).toBeCloseTo(3 / referenceTokens.length, 15);

  const runs = burn.results.runs.map((r) => (r.prompt_id === "long" ? { ...r, token_ids: tokens } : r));
  const model = buildModel(["x"], [torch, { ...burn, results: { ...burn.results, runs } }], null);
  const row = computeAgreement(model, "torch").rows.find((r) => r.label === "burn-cpu" && r.promptId === "long")!;
  expect(row.matchShare).toBe(record.match_share);
  expect(row.firstDivergence).toBe(record.first_divergence);
});

describe("rows at another dtype than the reference's (BENCH_DTYPE=f16,bf16)", () => {
  const config = { f32_exact: true, min_top1_agreement: 0.9, min_first_divergence: 8, top_k: 5 };
  // 32 reference tokens; the bf16 row's own greedy tokens part from them at token 1 (as measured).
  const referenceTokens = Array.from({ length: 32 }, (_, i) => 100 + i);
  const tokens = [referenceTokens[0], ...referenceTokens.slice(1).map((id) => id + 1)];
  const forced = (agreeing: number) => referenceTokens.map((id, i) => (i < agreeing ? id : id + 1));
  const check = (row: Dtype, reference: Dtype, agreeing: number) =>
    checkAgreement({ promptId: "short", reference: "mlx-lm[dtype=f32]", referenceTokens, tokens, teacherForcedArgmax: forced(agreeing), dtype: row, config, requestedDtypes: { row, reference } }).passed;

  test("judged by teacher-forced top-1, not first divergence: bf16's measured 31/32 against f32 passes, a broken kernel's ~0 fails", () => {
    expect(check("bf16", "f32", 31)).toBe(true);
    expect(check("bf16", "f32", 0)).toBe(false);
    expect(check("bf16", "f16", 30)).toBe(true);
    // Below CROSS_PRECISION_MIN_TOP1 against a reference at least as precise: fails.
    expect(check("bf16", "f16", Math.floor(32 * CROSS_PRECISION_MIN_TOP1) - 1)).toBe(false);
  });

  test("against a less precise reference (bf16), CROSS_PRECISION_MIN_TOP1_NOISY: f16's measured 16/32 passes, ~0 fails", () => {
    expect(crossPrecisionMinTop1("f16", "bf16")).toBe(CROSS_PRECISION_MIN_TOP1_NOISY);
    expect(crossPrecisionMinTop1("f32", "bf16")).toBe(CROSS_PRECISION_MIN_TOP1_NOISY);
    expect(crossPrecisionMinTop1("bf16", "f32")).toBe(CROSS_PRECISION_MIN_TOP1);
    expect(check("f16", "bf16", 16)).toBe(true);
    expect(check("f16", "bf16", 1)).toBe(false);
  });

  test("the same dtype on both sides keeps the prompts file's rule: this early divergence fails it", () => {
    expect(check("bf16", "bf16", 31)).toBe(false);
    expect(check("f32", "f32", 32)).toBe(false);
    // A row without a score reply cannot show its top-1 share: it fails rather than passing unchecked.
    expect(checkAgreement({ promptId: "short", reference: "x", referenceTokens, tokens, teacherForcedArgmax: null, dtype: "bf16", config, requestedDtypes: { row: "bf16", reference: "f32" } }).passed).toBe(false);
  });
});
