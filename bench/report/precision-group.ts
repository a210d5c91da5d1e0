import type { ResultsFile } from "../harness/schema/results.ts";

/**
 * The precision a results file's numbers belong to, as the report groups them (BENCH_DTYPE=f16,bf16
 * and quantized labels): the dtype the runner computed in, or for a quantized copy its bits and
 * scheme ("4-bit mlx-affine, group 64, f16 elsewhere").
 */
export function precisionGroup(results: ResultsFile): string {
  const q = results.quantization;
  if (!q) return results.precision;
  return `${q.bits}-bit ${q.method}${q.group_size === null ? "" : `, group ${q.group_size}`}, ${results.precision} elsewhere`;
}
