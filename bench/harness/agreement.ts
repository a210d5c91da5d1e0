import { formatFrameworkLabel, parseFrameworkLabel } from "./framework-label.ts";
import type { RunnerFlag } from "./runner-flags.ts";
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
 * Teacher-forced top-1 agreement a quantized label (mlx-lm[quant=4bit], llama-cpp[type=q8_0]) must
 * reach against its own framework's unquantized row: the share of positions where its argmax, fed the
 * unquantized row's tokens, is the unquantized row's token. Greedy continuations of a quantized model
 * drift apart after the first near-tie, so only the teacher-forced share is checked.
 *
 * Measured with scripts/measure-quant-agreement.py (mlx-lm 0.32.2 on CPU, 2026-12-07; 32 tokens a
 * prompt, short/medium/long; docs/precision-and-depth.md has the table) on the tiny synthetic model,
 * MLX affine, group 64: with f32 everywhere else, 8-bit 32/32 on all three prompts and 4-bit 18/32,
 * 25/32, 21/32; with bf16, 8-bit from 15/32 and 4-bit from 13/32. Seeded random weights give flat
 * logits whose near-ties quantization noise flips (a trained model's peaked ones hold), so only the
 * f32 8-bit row can be held to QUANTIZED_MIN_TOP1; every other quantized row is held to
 * QUANTIZED_MIN_TOP1_NOISY, which a broken dequantization or kernel still fails: it agrees on almost
 * no position of a 151,936-token vocabulary.
 */
export const QUANTIZED_MIN_TOP1 = 0.9;
export const QUANTIZED_MIN_TOP1_NOISY = 0.3;

/**
 * The teacher-forced top-1 a quantized row must reach: QUANTIZED_MIN_TOP1_NOISY below 8 bits or with
 * a 16-bit dtype everywhere else (the runner's dtype), QUANTIZED_MIN_TOP1 at 8 bits or more with f32,
 * and where the bits are not known (a runner whose launch carries no QuantizationRecord).
 */
export const quantizedMinTop1 = (bits: number | null, dtype: Dtype): number =>
  bits === null || (bits >= 8 && dtype === "f32") ? QUANTIZED_MIN_TOP1 : QUANTIZED_MIN_TOP1_NOISY;

/**
 * Teacher-forced top-1 agreement a row computing in another dtype than the reference's must reach
 * (BENCH_DTYPE=f16,bf16: `mlx-lm[dtype=bf16]` against an f16 reference). Rounding at a lower
 * precision flips the first near-tie and the greedy continuations part within a few tokens, so
 * min_first_divergence cannot hold them; as for quantized rows, only the teacher-forced share counts.
 *
 * Measured with mlx-lm 0.32.2 on CPU (2026-12-07; tiny synthetic model qwen3-tiny-f32, 32 tokens a
 * prompt, short/medium/long; docs/precision-and-depth.md): fed the tokens of a reference at least as
 * precise as itself (f32 > f16 > bf16 by mantissa bits), bf16 agrees on 31/32, 32/32, 31/32 of an f32
 * reference (96.9 % at worst) and on 32/32, 30/32, 31/32 of an f16 one, f16 on 32/32 of an f32 one,
 * while their greedy tokens diverge at token 1 to 13. Fed a bf16 reference's tokens, f16 and f32 agree
 * on only 16/32, 20/32, 20/32: the reference's own greedy choices carry its rounding on this model's
 * flat logits. So CROSS_PRECISION_MIN_TOP1 holds a row against a reference at least as precise, and
 * CROSS_PRECISION_MIN_TOP1_NOISY one against a less precise reference; a broken kernel or a wrong
 * dtype conversion fails both: it agrees on almost no position of a 151,936-token vocabulary (~0).
 */
export const CROSS_PRECISION_MIN_TOP1 = 0.9;
export const CROSS_PRECISION_MIN_TOP1_NOISY = 0.3;

/** Significand bits of each dtype: which of two dtypes is the more precise. */
const SIGNIFICAND_BITS: Record<Dtype, number> = { f32: 24, f16: 11, bf16: 8 };

/** The teacher-forced top-1 a row at `dtype` must reach against a reference computed at `referenceDtype`. */
export const crossPrecisionMinTop1 = (dtype: Dtype, referenceDtype: Dtype): number =>
  SIGNIFICAND_BITS[referenceDtype] >= SIGNIFICAND_BITS[dtype] ? CROSS_PRECISION_MIN_TOP1 : CROSS_PRECISION_MIN_TOP1_NOISY;

/**
 * The labels a quantized label is checked against, in order of preference: the same framework and
 * flags with the quantizing flag at the run's dtype (llama-cpp[type=f16]), then without that flag
 * (llama-cpp, whose default is the run's dtype); null when no flag of the label quantizes
 * (RunnerFlag.quantizes), i.e. the label is checked against the reference as usual.
 */
export function unquantizedLabels(label: string, flags: Record<string, RunnerFlag> | undefined, dtype: Dtype): string[] | null {
  const parsed = parseFrameworkLabel(label);
  const quantizing = parsed.flags.find(([name, value]) => flags?.[name]?.quantizes?.(value) ?? false);
  if (!quantizing) return null;
  const [name] = quantizing;
  const labels: string[] = [];
  if (flags![name].values.includes(dtype)) labels.push(formatFrameworkLabel({ ...parsed, flags: parsed.flags.map(([n, v]): [string, string] => [n, n === name ? dtype : v]) }));
  labels.push(formatFrameworkLabel({ ...parsed, flags: parsed.flags.filter(([n]) => n !== name) }));
  return labels;
}

/**
 * Bits per weight a label's quantizing flag names (RunnerFlag.bits), for a runner that quantizes at
 * load and carries no QuantizationRecord (burn-cpu[quant=q4]: 4); null where no flag says.
 */
export function labelQuantizedBits(label: string, flags: Record<string, RunnerFlag> | undefined): number | null {
  for (const [name, value] of parseFrameworkLabel(label).flags) {
    const flag = flags?.[name];
    if (flag?.quantizes?.(value) && flag.bits) return flag.bits(value);
  }
  return null;
}

/**
 * Checks a runner's greedy tokens against the reference's. f32 (with f32_exact) must be identical;
 * f16/bf16 must agree up to min_first_divergence and, teacher-forced, on min_top1_agreement of the
 * positions. `teacherForcedArgmax` is the runner's argmax on the reference continuation (score).
 * `quantized`: the runner's weights are quantized and the "reference" is its own unquantized row:
 * only the teacher-forced top-1 share counts, against quantizedMinTop1 of its bits. `requestedDtypes`
 * that differ: the row and the reference were started at different dtypes (BENCH_DTYPE=f16,bf16), and
 * likewise only the teacher-forced share counts, against crossPrecisionMinTop1.
 */
export function checkAgreement(args: {
  promptId: string;
  reference: string;
  referenceTokens: number[];
  tokens: number[];
  teacherForcedArgmax: number[] | null;
  dtype: Dtype;
  config: AgreementConfig;
  quantized?: boolean;
  /** Bits per weight of the quantized copy (its QuantizationRecord), or null/absent where not known. */
  quantizedBits?: number | null;
  /** The dtypes the row and the reference were started with (label flag or the run's); absent: the same. */
  requestedDtypes?: { row: Dtype; reference: Dtype };
}): AgreementRecord {
  const { tokens, referenceTokens, config } = args;
  const divergence = firstDivergence(tokens, referenceTokens);
  const top1 = args.teacherForcedArgmax === null ? null : matchShare(args.teacherForcedArgmax, referenceTokens);
  const exact = args.dtype === "f32" && config.f32_exact;
  const requested = args.requestedDtypes;
  const passed = args.quantized
    ? top1 !== null && top1 >= quantizedMinTop1(args.quantizedBits ?? null, args.dtype)
    : requested !== undefined && requested.row !== requested.reference
    ? top1 !== null && top1 >= crossPrecisionMinTop1(requested.row, requested.reference)
    : exact
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
