import type { LaunchSpec } from "./runner-process.ts";
import type { RunnerFlag } from "./runner-flags.ts";
import type { Dtype } from "./schema/model-config.ts";

/** Whether a framework can run here, and why (or why not). */
export interface Availability {
  available: boolean;
  reason: string;
}

/**
 * One benchmarked framework: a runner folder that speaks runners/PROTOCOL.md, how to set it up,
 * and how to start it. Each kind of runner has one builder (frameworks-python.ts, frameworks-burn.ts,
 * frameworks-binary.ts); frameworks.ts lists every entry. To add a framework, write its runner and
 * add one entry there.
 */
export interface Framework {
  /** The label in BENCH_FRAMEWORKS, results file names and reports. */
  name: string;
  /** The `framework` value this runner's `ready` line carries (runners/PROTOCOL.md); the conformance test checks it. */
  readyFramework: string;
  description: string;
  /**
   * Is it usable now? No side effects. `flags`: a label's runner flags, for a runner whose build
   * depends on one (llama-cpp's `backend`); none: the plain label.
   */
  probe(flags?: Array<[string, string]>): Promise<Availability>;
  /**
   * Installs or builds what this machine can run (idempotent); does nothing when it cannot.
   * `labelFlags`: the runner flags of each of the run's labels of this framework (llama-cpp builds
   * one backend per `backend=`); none: the plain label.
   */
  setup(labelFlags?: Array<Array<[string, string]>>): Promise<void>;
  /**
   * The command that starts the runner; call only after probe() said available. `flags` are the
   * label's runner flags (their arguments are appended by variants.ts): a runner whose model file
   * depends on one (llama-cpp's GGUF type) reads it here.
   */
  launch(modelDir: string, dtype: Dtype, flags?: Array<[string, string]>): Promise<LaunchSpec>;
  /** Runner flags a label may set (`burn-cuda[decode-graph=off]`), by name; none when absent. */
  flags?: Record<string, RunnerFlag>;
  /** The dtypes the runner computes in, when not every one: a label's `dtype` flag outside them is skipped with that reason (harness/precision.ts). */
  dtypes?: readonly Dtype[];
  /** Why only `dtypes`, for that reason. */
  dtypeNote?: string;
}
