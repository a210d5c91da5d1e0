import { describe, expect, test } from "vitest";
import { checkAgreement, firstDivergence, matchShare } from "../harness/agreement.ts";
import { runRecord } from "../harness/measure.ts";
import { GpuPowerSampler, integrateEnergy, visibleGpuIndex } from "../harness/host/power.ts";

const reply = (times: number[]) => ({
  id: 1, ok: true as const, op: "generate" as const,
  token_ids: times.map((_, i) => i), token_times_ns: times,
  total_time_ns: times[times.length - 1] + 500_000, peak_rss_bytes: 2 * 1024 * 1024, peak_device_bytes: null,
});

describe("runRecord", () => {
  test("derives TTFT, decode and prefill speed as PROTOCOL.md defines them", () => {
    // 5 tokens at 100, 110, 120, 130, 140 ms: TTFT 0.1 s; 4 decode steps in 40 ms = 100 tok/s;
    // 20 prompt tokens / 0.1 s = 200 tok/s.
    const r = runRecord({
      promptId: "p", iteration: 0, promptTokenIds: Array(20).fill(1), maxNewTokens: 5,
      reply: reply([100e6, 110e6, 120e6, 130e6, 140e6]), roundTripNs: 141e6, startedAt: new Date(0),
    });
    expect(r.ttft_secs).toBeCloseTo(0.1, 12);
    expect(r.decode_time_secs).toBeCloseTo(0.04, 12);
    expect(r.decode_tps).toBeCloseTo(100, 9);
    expect(r.prefill_tps).toBeCloseTo(200, 9);
    expect(r.per_token_latencies_ms).toEqual([100, 10, 10, 10, 10]);
    expect(r.total_time_secs).toBeCloseTo(0.14, 12);
    expect(r.harness_overhead_ms).toBeCloseTo(0.5, 9); // 141 ms round trip − 140.5 ms runner time
    expect(r.peak_rss_mb).toBe(2);
  });

  test("rejects a reply with the wrong token count or times going backwards", () => {
    const base = { promptId: "p", iteration: 0, promptTokenIds: [1], roundTripNs: 0, startedAt: new Date(0) };
    expect(() => runRecord({ ...base, maxNewTokens: 4, reply: reply([1, 2, 3]) })).toThrow(/generated 3 tokens, asked for exactly 4/);
    expect(() => runRecord({ ...base, maxNewTokens: 3, reply: reply([1, 3, 2]) })).toThrow(/token_times_ns\[2\]/);
  });
});

describe("agreement", () => {
  const config = { f32_exact: true, min_top1_agreement: 0.9, min_first_divergence: 3, top_k: 5 };

  test("firstDivergence and matchShare", () => {
    expect(firstDivergence([1, 2, 3], [1, 2, 3])).toBeNull();
    expect(firstDivergence([1, 2, 4], [1, 2, 3])).toBe(2);
    expect(firstDivergence([1, 2], [1, 2, 3])).toBe(2);
    expect(matchShare([1, 9, 3, 9], [1, 2, 3, 4])).toBe(0.5);
  });

  test("f32 must be identical", () => {
    const args = { promptId: "p", reference: "torch", referenceTokens: [1, 2, 3, 4], teacherForcedArgmax: [1, 2, 3, 4], config };
    expect(checkAgreement({ ...args, tokens: [1, 2, 3, 4], dtype: "f32" }).passed).toBe(true);
    expect(checkAgreement({ ...args, tokens: [1, 2, 3, 5], dtype: "f32" }).passed).toBe(false);
  });

  test("f16 passes with a late divergence and high teacher-forced agreement, fails otherwise", () => {
    const ref = Array.from({ length: 10 }, (_, i) => i);
    const late = [...ref.slice(0, 5), 99, 99, 99, 99, 99];
    const args = { promptId: "p", reference: "torch", referenceTokens: ref, dtype: "f16" as const, config };
    const ok = checkAgreement({ ...args, tokens: late, teacherForcedArgmax: [...ref.slice(0, 9), 42] });
    expect(ok).toMatchObject({ passed: true, identical: false, first_divergence: 5, top1_agreement: 0.9 });
    expect(checkAgreement({ ...args, tokens: [0, 1, 99, ...ref.slice(3)], teacherForcedArgmax: ref }).passed).toBe(false);
    expect(checkAgreement({ ...args, tokens: ref, teacherForcedArgmax: [...ref.slice(0, 8), 42, 42] }).passed).toBe(false);
  });
});

describe("integrateEnergy", () => {
  test("constant 100 W over 1.5 s is 150 J; a ramp integrates to its mean; windows outside the samples are null", () => {
    const flat = [0, 500, 1000, 1500, 2000].map((atMs) => ({ atMs, watts: 100 }));
    expect(integrateEnergy(flat, 250, 1750)).toBeCloseTo(150, 9);
    // 0 W at 0 ms rising to 200 W at 1000 ms: the window 0..1000 averages 100 W → 100 J.
    const ramp = [{ atMs: 0, watts: 0 }, { atMs: 1000, watts: 200 }];
    expect(integrateEnergy(ramp, 0, 1000)).toBeCloseTo(100, 9);
    // 250..750 ms: 50 W to 150 W, mean 100 W over 0.5 s → 50 J.
    expect(integrateEnergy(ramp, 250, 750)).toBeCloseTo(50, 9);
    expect(integrateEnergy(ramp, 500, 1500)).toBeNull();
    expect(integrateEnergy([], 0, 1)).toBeNull();
  });
});

describe("GpuPowerSampler", () => {
  test("a window that ends now waits for the next reading: a FAKE 100 W source gives about 100 J/s", async () => {
    // A fake power source standing in for `nvidia-smi -lms 50`: "100" every 50 ms.
    const fake = [process.execPath, "-e", "setInterval(() => console.log('100'), 50)"];
    const sampler = new GpuPowerSampler().follow(fake);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const start = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const joules = await sampler.energyBetween(start, performance.now());
      expect(joules).not.toBeNull();
      expect(joules!).toBeGreaterThan(15);
      expect(joules!).toBeLessThan(30);
    } finally {
      sampler.stop();
    }
  });

  test("one sampler per GPU serves every runner on it; the last release stops it", async () => {
    const a = await GpuPowerSampler.shared(7);
    const b = await GpuPowerSampler.shared(7);
    expect(b).toBe(a);
    const other = await GpuPowerSampler.shared(6);
    expect(other).not.toBe(a);
    a.release();
    const c = await GpuPowerSampler.shared(7);
    expect(c).toBe(a); // one user left: still the same loop
    b.release();
    c.release();
    const d = await GpuPowerSampler.shared(7);
    expect(d).not.toBe(a); // all released: a new one
    d.release();
    other.release();
  });
});

test("the power sampler reads the GPU that CUDA_VISIBLE_DEVICES names first, else GPU 0", () => {
  expect(visibleGpuIndex({ CUDA_VISIBLE_DEVICES: "1" })).toBe(1);
  expect(visibleGpuIndex({ CUDA_VISIBLE_DEVICES: " 3,0" })).toBe(3);
  expect(visibleGpuIndex({ CUDA_VISIBLE_DEVICES: "GPU-8f3c" })).toBe(0);
  expect(visibleGpuIndex({ CUDA_VISIBLE_DEVICES: "" })).toBe(0);
  expect(visibleGpuIndex({})).toBe(0);
});
