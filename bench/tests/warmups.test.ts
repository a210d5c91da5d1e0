// How many warm-ups a case still needs (bench/harness/warmups.ts), against counts worked by hand. The
// requests they turn into are checked end to end with the fake runner in schedule.test.ts (restart,
// BENCH_RUNS_PER_PROCESS) and budget-session.test.ts (the calibration request).
import { describe, expect, test } from "vitest";
import type { CaseShape } from "../harness/budget.ts";
import { startAfterWarmups, warmupsNeeded, worstCaseWarmups } from "../harness/warmups.ts";

const shape = (warmupIterations: number): CaseShape => ({ warmupIterations, warmupNewTokens: 8, timedIterations: 3, maxNewTokens: 32 });

describe("warmupsNeeded", () => {
  test("a case on a sound runner needs the planned warm-ups it has not served", () => {
    expect(warmupsNeeded({ planned: 3, done: 0, replaced: false })).toBe(3);
    expect(warmupsNeeded({ planned: 3, done: 1, replaced: false })).toBe(2);
    expect(warmupsNeeded({ planned: 3, done: 3, replaced: false })).toBe(0);
    expect(warmupsNeeded({ planned: 0, done: 0, replaced: false })).toBe(0);
    // More served than planned (a calibration request on a case that plans none): none, never negative.
    expect(warmupsNeeded({ planned: 0, done: 1, replaced: false })).toBe(0);
  });

  test("after the runner was replaced, the case's warm-ups again, at least one, whatever was served before", () => {
    expect(warmupsNeeded({ planned: 0, done: 0, replaced: true })).toBe(1);
    expect(warmupsNeeded({ planned: 2, done: 2, replaced: true })).toBe(2);
    expect(warmupsNeeded({ planned: 2, done: 0, replaced: true })).toBe(2);
  });
});

describe("startAfterWarmups", () => {
  test("nothing served: the shape as planned, from request 0", () => {
    expect(startAfterWarmups(shape(2), 0)).toEqual({ shape: shape(2), firstRequest: 0 });
  });

  test("a calibration request served: it is the case's first warm-up, and its requests start after it", () => {
    expect(startAfterWarmups(shape(1), 1)).toEqual({ shape: shape(1), firstRequest: 1 });
    expect(startAfterWarmups(shape(3), 1)).toEqual({ shape: shape(3), firstRequest: 1 });
    // A shape with no warm-up (a warm runner under a budget) still counts the one served.
    expect(startAfterWarmups(shape(0), 1)).toEqual({ shape: shape(1), firstRequest: 1 });
  });
});

test("worstCaseWarmups: a case's warm-ups plus their repetition after one restart", () => {
  expect([0, 1, 3].map(worstCaseWarmups)).toEqual([1, 2, 6]);
});
