/**
 * Precision as a dimension of a run (BENCH_DTYPE=f16,bf16): each (framework, dtype) is its own
 * runner process, results file and report row, named by a `dtype` flag on its label
 * (`mlx-lm[dtype=bf16]`), as any variant is. The flag is the harness's, not the runner's: it sets
 * the dtype the runner is launched with (--dtype) and every framework accepts it. With one dtype
 * (the default), labels stay as they are and the run's dtype applies to all, as before.
 */
import { formatFrameworkLabel, parseFrameworkLabel } from "./framework-label.ts";
import { Dtype } from "./schema/model-config.ts";

/** The label flag that sets a variant's dtype. */
export const DTYPE_FLAG = "dtype";

/** BENCH_DTYPE ("f16" or "f16,bf16") as distinct dtypes in the order given; one error naming the knob otherwise. */
export function parseDtypes(text: string): Dtype[] {
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new Error(`BENCH_DTYPE: ${JSON.stringify(text)}: expected one or more of ${Dtype.options.join(", ")}, comma-separated`);
  for (const item of items) {
    if (!Dtype.safeParse(item).success) throw new Error(`BENCH_DTYPE: ${JSON.stringify(item)} is not a dtype (${Dtype.options.join(", ")})`);
  }
  return [...new Set(items)] as Dtype[];
}

/** The dtype a label's `dtype` flag sets, or null when it sets none. Syntax only: works for any label. */
export function labelDtype(label: string): Dtype | null {
  const value = parseFrameworkLabel(label).flags.find(([name]) => name === DTYPE_FLAG)?.[1];
  return value === undefined ? null : Dtype.parse(value);
}

/** The label with its `dtype` flag set to `dtype` (added last, or replaced). */
export function withDtype(label: string, dtype: Dtype): string {
  const parsed = parseFrameworkLabel(label);
  const flags = parsed.flags.filter(([name]) => name !== DTYPE_FLAG);
  return formatFrameworkLabel({ ...parsed, flags: [...flags, [DTYPE_FLAG, dtype]] });
}

/** The label without its `dtype` flag (`torch[dtype=bf16]` → `torch`). */
export function withoutDtype(label: string): string {
  const parsed = parseFrameworkLabel(label);
  return formatFrameworkLabel({ ...parsed, flags: parsed.flags.filter(([name]) => name !== DTYPE_FLAG) });
}

/**
 * The labels of a run over several dtypes: each label once per dtype (a label that names its own
 * dtype stays as written); with one dtype, the labels unchanged.
 */
export function expandByDtype(labels: string[], dtypes: Dtype[]): string[] {
  if (dtypes.length < 2) return labels;
  return labels.flatMap((label) => (labelDtype(label) !== null ? [label] : dtypes.map((d) => withDtype(label, d))));
}

/** Why a framework cannot run `dtype` (its declared dtypes exclude it), or null when it can or declares none. */
export function dtypeUnsupported(framework: { name: string; dtypes?: readonly Dtype[]; dtypeNote?: string }, dtype: Dtype): string | null {
  if (!framework.dtypes || framework.dtypes.includes(dtype)) return null;
  return `${framework.name} cannot run ${dtype}: it computes in ${framework.dtypes.join(", ")} only${framework.dtypeNote ? ` (${framework.dtypeNote})` : ""}`;
}
