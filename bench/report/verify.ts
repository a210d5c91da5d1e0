import { firstDivergence, matchShare } from "../harness/agreement.ts";
import type { AgreementRecord } from "../harness/schema/results.ts";
import { chooseBaseline } from "./cases.ts";
import { formatPercent } from "./format.ts";
import type { ResultsModel } from "./summary.ts";

/** One framework's greedy tokens on one prompt against the reference's. */
export interface TokenAgreement {
  label: string;
  promptId: string;
  /** Tokens compared (the longer of the two sequences). */
  length: number;
  identical: boolean;
  /** First position where the ids differ; null when identical. */
  firstDivergence: number | null;
  /** The reference's and this framework's ids at the first divergence. */
  divergentIds: { reference: number | null; candidate: number | null } | null;
  /** Share of positions with equal ids (free-running), 0..1: harness/agreement.ts's matchShare. */
  matchShare: number;
  /** Teacher-forced top-1 agreement from the bench's agreement record; null when not measured. */
  top1Agreement: number | null;
  /** The bench's verdict (agreement record); null when it made none. */
  passed: boolean | null;
  /** True when every timed run of this framework produced the same tokens. */
  runsConsistent: boolean;
}

/** Agreement of every framework with the reference framework, per prompt. */
export interface AgreementReport {
  /** Label of the reference framework; null when none of the loaded frameworks can serve as one. */
  reference: string | null;
  rows: TokenAgreement[];
  /** Agreement records whose prompt has no reference tokens loaded (e.g. checked against goldens). */
  recordsOnly: Array<{ label: string; record: AgreementRecord }>;
}

/** Which framework the agreement records name as reference, when it is loaded. */
function recordedReference(model: ResultsModel): string | undefined {
  const named = model.files.flatMap((f) => f.results.agreement.map((a) => a.reference.split(" ")[0]));
  return named.find((name) => model.labels.includes(name));
}

/**
 * Compares each framework's first timed run with the reference framework's first timed run, per prompt.
 * The reference is `reference` if given, else the one the agreement records name, else torch, else the
 * first framework.
 */
export function computeAgreement(model: ResultsModel, reference?: string): AgreementReport {
  if (model.labels.length === 0) return { reference: null, rows: [], recordsOnly: [] };
  const referenceLabel = chooseBaseline(model.labels, reference ?? recordedReference(model));
  const referenceFile = model.files.find((f) => f.label === referenceLabel)!;
  const rows: TokenAgreement[] = [];
  const recordsOnly: AgreementReport["recordsOnly"] = [];
  for (const promptId of model.promptIds) {
    const referenceRun = referenceFile.results.runs.find((r) => r.prompt_id === promptId);
    for (const { label, results } of model.files) {
      if (label === referenceLabel) continue;
      const record = results.agreement.find((a) => a.prompt_id === promptId);
      const runs = results.runs.filter((r) => r.prompt_id === promptId);
      if (!referenceRun || runs.length === 0) {
        if (record) recordsOnly.push({ label, record });
        continue;
      }
      const tokens = runs[0].token_ids;
      const divergence = firstDivergence(tokens, referenceRun.token_ids);
      rows.push({
        label,
        promptId,
        length: Math.max(tokens.length, referenceRun.token_ids.length),
        identical: divergence === null,
        firstDivergence: divergence,
        divergentIds: divergence === null ? null : { reference: referenceRun.token_ids[divergence] ?? null, candidate: tokens[divergence] ?? null },
        matchShare: matchShare(tokens, referenceRun.token_ids),
        top1Agreement: record?.top1_agreement ?? null,
        passed: record?.passed ?? null,
        runsConsistent: runs.every((r) => r.token_ids.length === tokens.length && r.token_ids.every((id, i) => id === tokens[i])),
      });
    }
  }
  return { reference: referenceLabel, rows, recordsOnly };
}

/** One line describing a row, e.g. "diverges at token 19 (torch 1234, mlx-lm 5678); 71.9 % of positions match". */
export function describeAgreement(row: TokenAgreement, reference: string): string {
  const tokens = row.identical
    ? `identical (${row.length}/${row.length} tokens)`
    : `diverges at token ${row.firstDivergence} (${reference} ${row.divergentIds?.reference ?? "none"}, ${row.label} ${row.divergentIds?.candidate ?? "none"}); ${formatPercent(row.matchShare)} of positions match`;
  const top1 = row.top1Agreement === null ? "teacher-forced top-1 not measured" : `teacher-forced top-1 ${formatPercent(row.top1Agreement)}`;
  const verdict = row.passed === null ? "no verdict" : row.passed ? "passed" : "FAILED";
  const consistency = row.runsConsistent ? "" : "; timed runs differ from each other (non-deterministic)";
  return `${tokens}; ${top1}; ${verdict}${consistency}`;
}

/** verify.txt: per prompt, every framework against the reference. */
export function verifyText(model: ResultsModel, reference?: string): string {
  const report = computeAgreement(model, reference);
  if (report.reference === null) return "No results.\n";
  const width = Math.max(...model.labels.map((l) => l.length));
  const lines = [`Greedy-token agreement with the reference framework: ${report.reference}`, "(first timed run of each framework; top-1 and verdict from the bench's agreement records)", ""];
  for (const promptId of model.promptIds) {
    const rows = report.rows.filter((r) => r.promptId === promptId);
    const records = report.recordsOnly.filter((r) => r.record.prompt_id === promptId);
    if (!rows.length && !records.length) continue;
    lines.push(`prompt ${promptId}`);
    for (const row of rows) lines.push(`  ${row.label.padEnd(width)}  ${describeAgreement(row, report.reference)}`);
    for (const { label, record } of records) {
      const tokens = record.identical ? "identical" : `diverges at token ${record.first_divergence}; ${formatPercent(record.match_share)} of positions match`;
      const top1 = record.top1_agreement === null ? "teacher-forced top-1 not measured" : `teacher-forced top-1 ${formatPercent(record.top1_agreement)}`;
      lines.push(`  ${label.padEnd(width)}  vs ${record.reference}: ${tokens}; ${top1}; ${record.passed ? "passed" : "FAILED"}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}
