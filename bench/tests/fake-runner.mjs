#!/usr/bin/env node
// FAKE runner, for testing the harness's own fault handling only (never benchmarked, never
// registered as a framework). It speaks runners/PROTOCOL.md with made-up tokens and misbehaves on
// request: --mode ok | crash-after=N | hang-after=N | fatal | garbage | exit-before-ready
//   | diverge-at=N (generate request N, counted from 0, answers other tokens) | rss-growth=MiB (peak RSS grows that much a request)
import { createInterface } from "node:readline";

const mode = process.argv.find((a) => a.startsWith("--mode="))?.slice(7) ?? "ok";
const [kind, limit] = mode.split("=");
const send = (m) => process.stdout.write(JSON.stringify(m) + "\n");

if (kind === "fatal") {
  send({ op: "fatal", error: { kind: "model", message: "model.safetensors: model.norm.weight: missing tensor" } });
  process.exit(1);
}
if (kind === "exit-before-ready") {
  process.stderr.write("fake runner: dying before ready\n");
  process.exit(3);
}
if (kind === "garbage") {
  process.stdout.write("this is not json\n");
}
send({
  op: "ready", protocol_version: 1, framework: "fake", framework_version: "0", backend: "cpu", device: "fake device",
  dtype: "f32", parameter_count: 1, load_time_ms: 1, fusion: null, autotune: null, notes: ["FAKE runner for harness tests"],
});
let served = 0;
for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line);
  if (request.op === "shutdown") {
    send({ id: request.id, ok: true, op: "shutdown" });
    process.exit(0);
  }
  served++;
  if (kind === "crash-after" && served > Number(limit)) {
    process.stderr.write("fake runner: simulated crash\n");
    process.exit(139);
  }
  if (kind === "hang-after" && served > Number(limit)) continue; // never answers
  const n = request.max_new_tokens;
  // Like a real runner, a fresh process's first request is slow (10 ms per token against 1 ms), so a
  // test can tell whether a timed request was the first after a (re)start.
  const msPerToken = served === 1 ? 10 : 1;
  const diverged = kind === "diverge-at" && served - 1 === Number(limit);
  const rssMib = 1 + (kind === "rss-growth" ? (served - 1) * Number(limit) : 0);
  send({
    id: request.id, ok: true, op: "generate",
    token_ids: Array.from({ length: n }, (_, i) => (diverged && i >= 2 ? 200 : 100) + i),
    token_times_ns: Array.from({ length: n }, (_, i) => (i + 1) * msPerToken * 1_000_000),
    total_time_ns: n * msPerToken * 1_000_000 + 10_000, peak_rss_bytes: rssMib * (1 << 20), peak_device_bytes: null,
  });
}
