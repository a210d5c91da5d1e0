// A benchmark plan on the tiny f32 test model for tests that drive FrameworkSession directly: the
// fields every such test shares, and what differs passed in.
import type { BenchPlan } from "../harness/plan.ts";
import { checkModelDir } from "../harness/model/validate.ts";
import { TEST_MODELS } from "../harness/prepare.ts";

export function tinyPlan(runDir: string, overrides: Partial<BenchPlan> & Pick<BenchPlan, "profile">, modelDir = TEST_MODELS.tiny): BenchPlan {
  return {
    runDir,
    model: checkModelDir(modelDir).info("f32"),
    dtype: "f32",
    profileName: "quick",
    agreement: { f32_exact: true, min_top1_agreement: 0.9, min_first_divergence: 8, top_k: 5 },
    requestTimeoutMs: 60_000,
    startupTimeoutMs: 120_000,
    reference: "torch",
    gpuPower: false,
    interleave: false,
    frameworks: [],
    prompts: [],
    host: { hostname: "h", os: "o", cpu: "c", cpu_cores: 1, memory_gb: 1 },
    ...overrides,
  };
}
