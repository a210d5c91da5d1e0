// What `compare` and `ab` share: the gate's options, the refusal to gate on a case whose runner
// restarted, and the decision itself. The verdict of each row is the one rule of
// bench/stats/gate.ts, made by bench/report/comparison.ts; the rule in words is decisionRule
// (bench/report/tables.ts), printed above the comparison table.
import type { FileCase } from "../report/cases.ts";
import { restartsIn } from "../report/cases.ts";
import { ALL_PROMPTS, DEFAULT_GATE, type GateSettings, type SpeedComparison } from "../report/comparison.ts";
import { formatPercent, formatRatio } from "../report/format.ts";
import { isPooledStatistic } from "../stats/hierarchical-bootstrap.ts";
import { ExitCodeError } from "./exit-code-error.ts";

/** Exit status when a compared case had a runner restart and --allow-restarts was not given. */
export const EXIT_RESTARTS = 2;

/** parseArgs options of the gate, shared by both commands. */
export const GATE_OPTIONS = {
  noise: { type: "string", default: String(DEFAULT_GATE.band) },
  alpha: { type: "string", default: String(Math.round((1 - DEFAULT_GATE.confidence) * 1000) / 1000) },
  statistic: { type: "string", default: DEFAULT_GATE.statistic },
  "allow-restarts": { type: "boolean", default: false },
} as const;

export const GATE_USAGE = `--noise: the band of tolerated relative change (0.02 = ±2 %); --alpha: 1 − the interval's confidence;
--statistic: median, mean or a percentile p1..p99 of decode-step latencies.`;

export function parseGate(values: { noise?: string; alpha?: string; statistic?: string }): GateSettings {
  const band = Number(values.noise);
  const alpha = Number(values.alpha);
  if (!(band >= 0 && band < 1)) throw new Error(`--noise must be a share in [0, 1), got ${values.noise}`);
  if (!(alpha > 0 && alpha < 1)) throw new Error(`--alpha must be in (0, 1), got ${values.alpha}`);
  const statistic = values.statistic ?? DEFAULT_GATE.statistic;
  if (!isPooledStatistic(statistic)) throw new Error(`--statistic must be median, mean or a percentile p1..p99 (p10), got ${statistic}`);
  return { band, confidence: 1 - alpha, statistic };
}

/** Refuses (exit 2) to gate on cases whose runner restarted (a timing may include a cold process), unless allowed; then it only notes them. */
export function refuseRestarts(cases: FileCase[], allow: boolean): void {
  const restarted = restartsIn(cases).map(({ case: c, side, restart: r }) => `${c[side].label}/${c.promptId} (${side}: ${r.signal ?? `exit ${r.exit_code}`} at ${r.prompt_id === null ? "start-up" : `iteration ${r.iteration}`}, ${r.at})`);
  if (restarted.length === 0) return;
  // main() prints the message and exits with the error's code.
  if (!allow) throw new ExitCodeError(EXIT_RESTARTS, `refusing to gate: a runner restarted during ${restarted.join(", ")}; its timings may include a cold process. Rerun, or pass --allow-restarts to gate anyway.`);
  console.log(`\nnote: gating despite runner restarts (--allow-restarts): ${restarted.join(", ")}`);
}

/**
 * The gate: "every" row decides (`compare`), or only the rows that pool a (baseline, candidate)'s
 * prompts, a single prompt being its own pool (`ab`). Throws (exit 1) when one of them is "slower".
 */
export function decide(comparisons: SpeedComparison[], rows: "every" | "pooled"): void {
  const pooledExists = (c: SpeedComparison) => comparisons.some((o) => o.promptId === ALL_PROMPTS && o.baseline === c.baseline && o.candidate === c.candidate);
  const gated = rows === "every" ? comparisons : comparisons.filter((c) => c.promptId === ALL_PROMPTS || !pooledExists(c));
  const name = (c: SpeedComparison) => `${c.candidate === c.baseline ? c.candidate : `${c.candidate} vs ${c.baseline}`}/${c.promptId}`;
  const slower = gated.filter((c) => c.verdict === "slower");
  // main() turns a thrown error into exit status 1 with the message on stderr.
  if (slower.length) throw new Error(`significant slowdown beyond the noise band: ${slower.map((c) => `${name(c)} ${formatPercent(1 - c.ratio.estimate)} slower (interval ${formatRatio(c.ratio.low)}–${formatRatio(c.ratio.high)})`).join(", ")}`);
  const inconclusive = gated.filter((c) => c.verdict === "inconclusive");
  if (inconclusive.length) console.log(`\nnote: ${inconclusive.length} case(s) inconclusive (the interval straddles the band's edge): more timed runs would decide.`);
  console.log("\nno significant slowdown beyond the noise band");
}
