import type { SoakFile, SoakMemory } from "../harness/schema/soak.ts";
import { textTable } from "./export/text.ts";
import { formatNumber } from "./format.ts";

/** What each memory series is, for a reader of the table. */
const SERIES_NAMES: Record<SoakMemory["series"], string> = {
  process: "process, measured by the harness",
  runner_peak_rss: "runner's own peak RSS",
  runner_peak_device: "runner's own device figure",
};

const signed = (mib: number): string => `${mib > 0 ? "+" : ""}${mib.toFixed(1)}`;

/** The soak's summary as plain text: what ran, tokens and speed, then memory per series, then the verdict. */
export function soakText(file: SoakFile): string {
  const heading = `soak: ${file.framework} (${file.backend} / ${file.device}, ${file.precision}), prompt ${file.prompt_id} (${file.prompt_token_ids.length} tokens), ${file.new_tokens} new tokens a request, one runner process`;
  const summary = textTable({
    headers: ["requests", "tokens identical", "decode tok/s first", "decode tok/s last"],
    rows: [[`${file.requests_served} of ${file.requests}`, file.requests_served === 0 ? "–" : file.tokens_identical ? "yes" : `no (from request ${file.first_difference!.request})`, formatNumber(file.decode_tps_first), formatNumber(file.decode_tps_last)]],
    numeric: [true, false, true, true],
  });
  const memory = file.memory.length
    ? textTable({
        headers: ["memory", "source", "first MiB", "last MiB", "max MiB", "growth MiB"],
        rows: file.memory.map((m) => [SERIES_NAMES[m.series], m.source, m.first_mib.toFixed(1), m.last_mib.toFixed(1), m.max_mib.toFixed(1), signed(m.growth_mib)]),
        numeric: [false, false, true, true, true, true],
      })
    : "memory: not measured";
  const verdict = file.passed ? `passed: tokens identical, no memory series grew by more than ${file.max_growth_mib} MiB` : `FAILED:\n${file.failures.map((f) => `  - ${f}`).join("\n")}`;
  return [heading, "", summary, "", `memory at ${file.samples.length} sampled requests (${file.samples.map((s) => s.request).join(", ")})`, memory, "", verdict, ""].join("\n");
}
