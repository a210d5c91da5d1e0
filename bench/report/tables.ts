import { chooseBaseline, compareDecodeTps } from "./comparison.ts";
import { formatBandwidth, formatNumber, formatP, formatPercent, formatRatio, formatSwitch } from "./format.ts";
import type { Table } from "./document.ts";
import { summariesFor, type ResultsModel } from "./summary.ts";
import type { PairedComparison } from "./pairing.ts";

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
    headers: ["Framework", "Decode tok/s (median)", "95 % CI", "TTFT ms", "Prefill tok/s", "Step latency p50 / p90 / p99 ms", "Peak memory MiB (harness)", "Peak RSS MiB", "Framework's own device MiB", "Share of bandwidth ceiling", "Harness overhead ms", "Energy J/token", "Runs"],
    numeric: [false, true, true, true, true, true, true, true, true, true, true, true, true],
    rows,
  };
}

/** Decode speed of every framework relative to the baseline, per prompt, with the ratio's CI and the rank-test p. */
export function ratioTable(model: ResultsModel, baselineLabel?: string): { baseline: string; table: Table } | null {
  if (model.labels.length < 2) return null;
  const baseline = chooseBaseline(model.labels, baselineLabel);
  const rows: string[][] = [];
  for (const promptId of model.promptIds) {
    const summaries = summariesFor(model, promptId);
    const base = summaries.find((s) => s.label === baseline);
    if (!base) continue;
    for (const s of summaries.filter((x) => x.label !== baseline)) {
      const c = compareDecodeTps(base.decodeTpsSamples, s.decodeTpsSamples);
      const floorNote = c.pFloor > 0.05 ? ` (floor ${formatP(c.pFloor)} at ${base.runs.length} vs ${s.runs.length} runs)` : "";
      rows.push([promptId, s.label, formatRatio(c.ratio.estimate), `${formatRatio(c.ratio.low)}–${formatRatio(c.ratio.high)}`, `${formatP(c.p)}${floorNote}`]);
    }
  }
  return {
    baseline,
    table: { headers: ["Prompt", "Framework", `Decode speed vs ${baseline}`, "95 % CI", "p (Mann-Whitney U)"], numeric: [false, false, true, true, true], rows },
  };
}

/** A/B pairs of one framework's labels, per prompt: paired ratios of decode tok/s and step latency with their intervals. */
export function pairTable(comparisons: PairedComparison[]): Table | null {
  if (comparisons.length === 0) return null;
  const interval = (ci: PairedComparison["decodeTpsRatio"]) => `${formatRatio(ci.low)}–${formatRatio(ci.high)}`;
  return {
    headers: ["Prompt", "B", "A", "Pairs", "Interleaved", "Decode tok/s B ÷ A", "95 % CI", "Step latency B ÷ A", "95 % CI"],
    numeric: [false, false, false, true, false, true, true, true, true],
    rows: comparisons.map((c) => [
      c.promptId,
      c.candidate,
      c.baseline,
      String(c.pairs),
      c.interleaved ? "yes" : "no",
      formatRatio(c.decodeTpsRatio.estimate),
      interval(c.decodeTpsRatio),
      formatRatio(c.stepLatencyRatio.estimate),
      interval(c.stepLatencyRatio),
    ]),
  };
}

/** How the numbers were computed, for the report's footer. */
export const METHOD_NOTES = [
  "Decode tok/s per run = (tokens − 1) / (last token time − first token time), timed by the runner with a monotonic clock, token ids read back to the host each step.",
  "Medians are over timed runs; the 95 % CI is a percentile bootstrap of the median (10,000 resamples, fixed seed), the ratio CI resamples both frameworks' runs independently.",
  "Step latency percentiles pool every decode step of every timed run (the first token, i.e. TTFT, excluded), linear interpolation between closest ranks (numpy's default).",
  "p is a two-sided Mann-Whitney U test on per-run decode tok/s (exact when a sample has ≤ 8 runs and no ties); with 3 runs against 3 it cannot go below 0.1.",
  "Share of bandwidth ceiling = median decode tok/s × weight bytes per token / peak memory bandwidth (known-chip table); 100 % would mean every weight byte is read at peak bandwidth.",
];
