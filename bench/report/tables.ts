import { abCases, againstBaseline, chooseBaseline, fastestLabel } from "./cases.ts";
import { ALL_PROMPTS, compareCases, DEFAULT_GATE, type GateSettings, type Pairing, type SpeedComparison } from "./comparison.ts";
import { CONFIDENCE, formatBandwidth, formatNumber, formatPercent, formatRatio, formatSetting, formatSwitch, RESAMPLES } from "./format.ts";
import type { Table } from "./document.ts";
import { summariesFor, type ResultsModel } from "./summary.ts";

/** Setup facts as label/value pairs: hardware, profile, model. */
export function setupFacts(model: ResultsModel): Array<[string, string]> {
  const facts: Array<[string, string]> = [];
  const first = model.files[0]?.results;
  const hw = model.hwInfo;
  if (hw) {
    facts.push(["Host", `${hw.hostname}: ${hw.os.distro} ${hw.os.release} (${hw.os.platform} ${hw.os.arch}, kernel ${hw.os.kernel})`]);
    facts.push(["CPU", `${hw.cpu.name}, ${hw.cpu.physical_cores} cores / ${hw.cpu.cores} threads, ${(hw.memory_bytes / 2 ** 30).toFixed(0)} GiB memory${hw.memory_bandwidth_bytes_per_s ? `, ${formatBandwidth(hw.memory_bandwidth_bytes_per_s)} (${hw.memory_bandwidth_source})` : ""}`]);
    for (const gpu of hw.gpus) {
      const parts = [
        gpu.memory_mb === null ? null : `${(gpu.memory_mb / 1024).toFixed(0)} GiB`,
        gpu.driver_version === null ? null : `driver ${gpu.driver_version}`,
        gpu.power_limit_w === null ? null : `power limit ${gpu.power_limit_w} W`,
        gpu.bandwidth_bytes_per_s === null ? "bandwidth unknown" : `${formatBandwidth(gpu.bandwidth_bytes_per_s)} (${gpu.bandwidth_source})`,
      ].filter((p): p is string => p !== null);
      facts.push(["GPU", `${gpu.name}: ${parts.join(", ")}`]);
    }
  } else if (first) {
    facts.push(["Host", `${first.host.hostname}: ${first.host.os}, ${first.host.cpu} (${first.host.cpu_cores} cores), ${first.host.memory_gb} GB memory (no hw_info.json)`]);
  }
  if (first) {
    const profiles = [...new Set(model.files.map((f) => `${f.results.profile}: ${f.results.max_new_tokens} new tokens, ${f.results.warmup_iterations} warm-up + ${f.results.timed_iterations} timed runs per prompt, ${f.results.cooldown_secs} s cool-down`))];
    facts.push(["Profile", profiles.join("; ")]);
    facts.push(["Harness", [...new Set(model.files.map((f) => f.results.harness_version))].join(", ")]);
    const m = first.model;
    facts.push(["Model", `${m.name}: ${(m.parameter_count / 1e6).toFixed(0)} M parameters, ${m.num_hidden_layers} layers, hidden size ${m.hidden_size}, config sha256 ${m.config_sha256.slice(0, 12)}…`]);
    facts.push(["Weights", m.synthetic ? `SYNTHETIC (seeded random, seed ${m.synth_seed}): speeds are real, generated text is meaningless` : "trained checkpoint"]);
    facts.push(["Runs", `${first.started_at} – ${model.files.map((f) => f.results.updated_at).sort().at(-1)}`]);
  }
  return facts;
}

/** One row per framework: what produced the numbers. */
export function frameworksTable(model: ResultsModel): Table {
  return {
    headers: ["Framework", "Version", "Backend", "Device", "Precision (requested)", "Weight bytes / token", "Fusion", "Autotune", "Load (s)", "Notes"],
    numeric: [false, false, false, false, false, true, false, false, true, false],
    rows: model.files.map(({ label, results: r }) => [
      label,
      r.framework_version,
      r.backend,
      r.device,
      `${r.precision} (${r.requested_precision})`,
      `${(r.model.weight_bytes / 1e9).toFixed(2)} GB`,
      formatSwitch(r.fusion),
      formatSwitch(r.autotune),
      (r.ready.load_time_ms / 1000).toFixed(1),
      r.ready.notes.join("; "),
    ]),
  };
}

/** The per-prompt results table. */
export function promptTable(model: ResultsModel, promptId: string): Table {
  const rows = summariesFor(model, promptId).map((s) => [
    s.label,
    formatNumber(s.decodeTps.estimate),
    `${formatNumber(s.decodeTps.low)}–${formatNumber(s.decodeTps.high)}`,
    formatNumber(s.ttftMs),
    formatNumber(s.prefillTps),
    `${formatNumber(s.stepLatencyMs.p50)} / ${formatNumber(s.stepLatencyMs.p90)} / ${formatNumber(s.stepLatencyMs.p99)}`,
    s.processMemoryMb === null ? "not measured" : `${formatNumber(s.processMemoryMb)} (${s.processMemorySource})`,
    formatNumber(s.peakRssMb),
    s.peakDeviceMb === null ? "n/a" : `${formatNumber(s.peakDeviceMb)}${s.deviceMemoryMetric ? ` (${s.deviceMemoryMetric.split(" (")[0]})` : ""}`,
    s.bandwidthShare === null ? "unknown" : formatPercent(s.bandwidthShare),
    formatNumber(s.harnessOverheadMs),
    s.joulesPerToken === null ? "not measured" : formatNumber(s.joulesPerToken),
    String(s.runs.length),
  ]);
  return {
    headers: ["Framework", "Decode tok/s (median)", `${CONFIDENCE} CI`, "TTFT ms", "Prefill tok/s", "Step latency p50 / p90 / p99 ms", "Peak memory MiB (harness)", "Peak RSS MiB", "Framework's own device MiB", "Share of bandwidth ceiling", "Harness overhead ms", "Energy J/token", "Runs"],
    numeric: [false, true, true, true, true, true, true, true, true, true, true, true, true],
    rows,
  };
}

/**
 * Comparisons as one table, the same for the report and the CLIs (`compare`, `ab`): per row the two
 * labels, their decode speeds, the speed ratio with its interval, the evidence (runs × decode steps
 * per side, or pairs) and the verdict (bench/stats/gate.ts).
 */
export function comparisonTable(comparisons: SpeedComparison[]): Table {
  const confidence = Math.round((comparisons[0]?.ratio.confidence ?? DEFAULT_GATE.confidence) * 100);
  const perRun = (runs: number, steps: number) => `${runs}×${Math.round(steps / runs)}`;
  return {
    headers: ["Prompt", "Candidate", "Baseline", "Baseline tok/s", "Candidate tok/s", "Speed ratio", `${confidence} % CI`, "Evidence", "Verdict"],
    numeric: [false, false, false, true, true, true, true, true, false],
    rows: comparisons.map((c) => [
      c.promptId,
      c.candidate,
      c.baseline,
      formatNumber(c.baselineTps),
      formatNumber(c.candidateTps),
      formatRatio(c.ratio.estimate),
      `${formatRatio(c.ratio.low)}–${formatRatio(c.ratio.high)}`,
      c.pairing === "paired"
        ? `${c.baselineRuns} pairs${c.interleaved ? "" : ", not interleaved"}`
        : `${perRun(c.baselineRuns, c.baselineSteps)} / ${perRun(c.candidateRuns, c.candidateSteps)}`,
      c.verdict,
    ]),
  };
}

/** The ratio and the decision rule in words, that `compare` and `ab` print above comparisonTable. */
export function decisionRule(gate: GateSettings, pairing: Pairing): string {
  const pct = `${Math.round(gate.confidence * 100)} %`;
  const ratio =
    pairing === "independent"
      ? `speed ratio candidate/baseline = ${gate.statistic} decode-step latency of the baseline / of the candidate (every step of every timed run, TTFT excluded); ` +
        `${pct} interval from a two-stage bootstrap (runs with replacement, then steps within each run; ${RESAMPLES} resamples, fixed seed); ` +
        `"${ALL_PROMPTS}": the geometric mean of the prompts' ratios, resampled together (tok/s there: geometric means).`
      : `speed ratio candidate/baseline = the median over pairs (timed run i of each label) of the ${gate.statistic} decode-step latency of the baseline's run / of the candidate's (TTFT excluded); ` +
        `${pct} interval from a bootstrap over the pairs (${RESAMPLES} resamples, fixed seed); "${ALL_PROMPTS}": every prompt's pairs together.`;
  const rows = pairing === "independent" ? "every row gates" : `each pair of labels' "${ALL_PROMPTS}" row gates, or its one prompt's`;
  return (
    `${ratio}\ndecision (${rows}): "slower" (exit 1) when the whole interval is below ${formatRatio(1 - gate.band)} (1 − noise band ${formatPercent(gate.band)}); ` +
    `"faster" when above ${formatRatio(1 + gate.band)}; "within noise" when inside the band; else "inconclusive".`
  );
}

/**
 * Decode speed of every framework relative to the baseline (independent runs), per prompt and over
 * all prompts: `baselineLabel` where given, else the run's fastest label ([`fastestLabel`]).
 */
export function ratioTable(model: ResultsModel, baselineLabel?: string): { baseline: string; table: Table } | null {
  if (model.labels.length < 2) return null;
  const baseline = chooseBaseline(model.labels, baselineLabel ?? fastestLabel(model) ?? undefined);
  return { baseline, table: comparisonTable(compareCases(againstBaseline(model, baseline), "independent")) };
}

/** The A/B pairs of one run (two labels of one framework), per prompt and over all prompts; null when there are none. */
export function abTable(model: ResultsModel): Table | null {
  const comparisons = compareCases(abCases(model), "paired");
  return comparisons.length === 0 ? null : comparisonTable(comparisons);
}

/** How the numbers were computed, for the report's footer. */
export const METHOD_NOTES = [
  "Decode tok/s per run = (tokens − 1) / (last token time − first token time), timed by the runner with a monotonic clock, token ids read back to the host each step.",
  `Medians are over timed runs; the ${CONFIDENCE} CI is a percentile bootstrap of the median (${RESAMPLES} resamples, fixed seed), the ratio CI resamples both frameworks' runs independently.`,
  "Step latency percentiles pool every decode step of every timed run (the first token, i.e. TTFT, excluded), linear interpolation between closest ranks (numpy's default).",
  `Speed ratios (candidate ÷ baseline) compare the median decode-step latency (TTFT excluded): frameworks as independent samples, by a two-stage bootstrap (runs with replacement, then steps within each run; ${RESAMPLES} resamples, fixed seed); A/B labels of one run pair by pair (the median of the pairs' ratios, bootstrapped over the pairs). Over all prompts: the geometric mean of the prompts' ratios (pairs: the median over every pair).`,
  `Verdict against a ±${formatSetting(DEFAULT_GATE.band)} noise band: slower or faster when the whole ${CONFIDENCE} interval lies beyond the band, within noise when it lies inside, else inconclusive (the rule of \`qwen3-bench compare\` and \`ab\`).`,
  "Share of bandwidth ceiling = median decode tok/s × weight bytes per token / peak memory bandwidth (known-chip table); 100 % would mean every weight byte is read at peak bandwidth.",
];
