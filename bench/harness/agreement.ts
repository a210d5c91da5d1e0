import type { AgreementConfig } from "./schema/prompts.ts";
import type { Dtype } from "./schema/model-config.ts";
import type { AgreementRecord } from "./schema/results.ts";

/** First index where two token sequences differ, or null when identical (same length). */
export function firstDivergence(a: number[], b: number[]): number | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? null : n;
}

/**
 * Share of positions holding the same id, 0..1, over the longer of the two sequences: a position
 * one sequence lacks counts as a mismatch, so the share is symmetric and 1 only for identical
 * sequences (two empty ones included). The one definition of "match share": the bench's agreement
 * records and verify.txt both use it.
 */
export function matchShare(tokens: number[], reference: number[]): number {
  const length = Math.max(tokens.length, reference.length);
  if (length === 0) return 1;
  let same = 0;
  for (let i = 0; i < length; i++) if (tokens[i] === reference[i]) same++;
  return same / length;
}

/**
 * Checks a runner's greedy tokens against the reference's. f32 (with f32_exact) must be identical;
 * f16/bf16 must agree up to min_first_divergence and, teacher-forced, on min_top1_agreement of the
 * positions. `teacherForcedArgmax` is the runner's argmax on the reference continuation (score).
 */
export function checkAgreement(args: {
  promptId: string;
  reference: string;
  referenceTokens: number[];
  tokens: number[];
  teacherForcedArgmax: number[] | null;
  dtype: Dtype;
  config: AgreementConfig;
}): AgreementRecord {
  const { tokens, referenceTokens, config } = args;
  const divergence = firstDivergence(tokens, referenceTokens);
  const top1 = args.teacherForcedArgmax === null ? null : matchShare(args.teacherForcedArgmax, referenceTokens);
  const exact = args.dtype === "f32" && config.f32_exact;
  const passed = exact
    ? divergence === null
    : (divergence === null || divergence >= Math.min(config.min_first_divergence, referenceTokens.length)) &&
      (top1 === null || top1 >= config.min_top1_agreement);
  return {
    prompt_id: args.promptId,
    reference: args.reference,
    identical: divergence === null,
    first_divergence: divergence,
    match_share: matchShare(tokens, referenceTokens),
    top1_agreement: top1,
    passed,
  };
}
