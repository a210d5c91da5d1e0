import type { Table } from "./document.ts";
import { depthRows } from "./depth-rows.ts";
import { CONFIDENCE, formatNumber, formatPercent } from "./format.ts";
import type { ResultsModel } from "./summary.ts";

/**
 * Decode speed at each depth per framework, with its share of the same framework's speed at the
 * smallest depth measured, and the memory the harness measured at that depth (memory/sampler.ts's peak).
 */
export function depthTable(model: ResultsModel): Table {
  const rows = depthRows(model);
  const first = new Map<string, number>();
  for (const r of rows) if (r.summary && !first.has(r.label)) first.set(r.label, r.summary.decodeTps.estimate);
  return {
    headers: ["Framework", "Depth (tokens)", "Decode tok/s (median)", `${CONFIDENCE} CI`, "vs shallowest", "TTFT ms", "Peak memory MiB (harness)", "Runs"],
    numeric: [false, true, true, true, true, true, true, true],
    rows: rows.map(({ label, depth, summary: s, notMeasured }) =>
      s
        ? [
            label,
            String(depth),
            formatNumber(s.decodeTps.estimate),
            `${formatNumber(s.decodeTps.low)}–${formatNumber(s.decodeTps.high)}`,
            formatPercent(s.decodeTps.estimate / first.get(label)!),
            formatNumber(s.ttftMs),
            s.processMemoryMb === null ? "not measured" : `${formatNumber(s.processMemoryMb)} (${s.processMemorySource})`,
            String(s.runs.length),
          ]
        : [label, String(depth), `not measured: ${notMeasured}`, "", "", "", "", "0"],
    ),
  };
}
