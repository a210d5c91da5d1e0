// "Match share" has one definition (harness/agreement.ts), used by the bench's agreement records and
// by verify.txt alike.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { checkAgreement, firstDivergence, matchShare } from "../harness/agreement.ts";
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
