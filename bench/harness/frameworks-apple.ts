import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Availability, Framework } from "./frameworks.ts";
import { RUNNERS_DIR } from "./paths.ts";
import { platformFacts } from "./platform.ts";
import { BURN_FLAGS } from "./runner-flags.ts";
import { buildBurn, burnBinary, burnTargetDir, compiledBackends } from "./setup/burn-build.ts";
import { BURN_MLX_LINUX_CPU, MLX_CPU_VERSION, buildBurnMlxLinuxCpu, burnMlxLinuxCpuRequested } from "./setup/burn-mlx-build.ts";
import { runLogged, tryOutput } from "./setup/exec.ts";

/** Why an Apple runner cannot run here, or null on macOS with Apple Silicon. */
async function notAppleSilicon(): Promise<string | null> {
  return (await platformFacts()).appleSilicon ? null : "needs macOS on Apple Silicon";
}

// Builds always run: xcodebuild and cargo decide what is stale themselves (uncommitted edits, and
// burn-mlx's config.rs, which lives in runners/burn, included).

/** A runner binary that one build command produces; BENCH_<NAME>_BIN points at a prebuilt one. */
function binaryRunner(opts: {
  name: string;
  readyFramework: string;
  description: string;
  binary: () => string;
  /** Set when the binary comes from the environment: setup then builds nothing. */
  prebuilt: () => boolean;
  build: () => Promise<void>;
  /** Why this machine can neither build nor run it, or null; by default notAppleSilicon. */
  notHere?: () => Promise<string | null>;
  notBuiltHint: string;
  args: string[];
}): Framework {
  return {
    name: opts.name,
    readyFramework: opts.readyFramework,
    description: opts.description,
    async probe(): Promise<Availability> {
      // A prebuilt binary runs wherever it was built for (mlx-swift also builds for Linux's CPU:
      // runners/mlx-swift-runner/README.md), so only a build here needs a Mac.
      const reason = opts.prebuilt() ? null : await (opts.notHere ?? notAppleSilicon)();
      if (reason) return { available: false, reason };
      if (!existsSync(opts.binary())) return { available: false, reason: `not built: ${opts.notBuiltHint} (${opts.binary()} missing)` };
      return { available: true, reason: opts.binary() };
    },
    async setup() {
      if ((await (opts.notHere ?? notAppleSilicon)()) || opts.prebuilt()) return;
      await opts.build();
    },
    async launch(modelDir, dtype) {
      return { framework: opts.name, command: opts.binary(), args: ["--model", modelDir, "--dtype", dtype, ...opts.args] };
    },
  };
}

const mlxSwiftDir = join(RUNNERS_DIR, "mlx-swift-runner");
/** xcodebuild's products folder; the MLX Metal library (mlx-swift_Cmlx.bundle) sits beside the binary. */
const mlxSwiftBinary = (): string =>
  process.env.BENCH_MLX_SWIFT_BIN || join(mlxSwiftDir, ".build", "xcode", "Build", "Products", "Release", "qwen3-mlx-swift-runner");

/**
 * xcodebuild, not `swift build`: SwiftPM on the command line cannot compile MLX's Metal shaders
 * (mlx-swift README, "SwiftPM"), and a binary without them fails on its first GPU op.
 */
async function buildMlxSwift(): Promise<void> {
  if ((await tryOutput("xcodebuild", ["-version"])) === null) {
    throw new Error("xcodebuild not found: install Xcode 16 or newer (mlx-swift 0.31.4 needs Swift 6) and run `sudo xcode-select -s /Applications/Xcode.app`");
  }
  await runLogged(
    "setup mlx-swift",
    "xcodebuild",
    ["build", "-scheme", "qwen3-mlx-swift-runner", "-configuration", "Release", "-destination", "platform=macOS,arch=arm64", "-derivedDataPath", join(".build", "xcode"), "-skipPackagePluginValidation", "-skipMacroValidation"],
    { cwd: mlxSwiftDir },
  );
}

const burnMlxBinary = (): string => process.env.BENCH_BURN_MLX_BIN || join(burnTargetDir(), "release", "qwen3-burn-mlx-runner");

/**
 * cargo, in the same target folder as runners/burn (outside the clone); mlx-sys-burn builds MLX with
 * CMake. On Linux (BENCH_BURN_MLX=linux-cpu) against PyPI's mlx-cpu wheel: setup/burn-mlx-build.ts.
 */
async function buildBurnMlx(): Promise<void> {
  if (burnMlxLinuxCpuRequested()) return buildBurnMlxLinuxCpu();
  if ((await tryOutput("cargo", ["--version"])) === null) throw new Error("cargo not found: install Rust (rustup) to build the burn-mlx runner");
  if ((await tryOutput("cmake", ["--version"])) === null) throw new Error("cmake not found: mlx-sys-burn builds MLX with CMake (`brew install cmake`)");
  await runLogged("setup burn-mlx", "cargo", ["build", "--release", "--locked", "--manifest-path", join(RUNNERS_DIR, "burn-mlx", "Cargo.toml")], {
    env: { CARGO_TARGET_DIR: burnTargetDir() },
  });
}

const mlxSwift = binaryRunner({
  name: "mlx-swift",
  readyFramework: "mlx-swift",
  description: "MLX Swift: Qwen3 written on mlx-swift 0.31.4 ops (MLXFast rmsNorm/RoPE/attention), pipelined greedy decode, on Metal (MLX's CPU backend on Linux, prebuilt: BENCH_MLX_SWIFT_BIN)",
  binary: mlxSwiftBinary,
  prebuilt: () => Boolean(process.env.BENCH_MLX_SWIFT_BIN),
  build: buildMlxSwift,
  notBuiltHint: "run `npx qwen3-bench setup` (xcodebuild) or set BENCH_MLX_SWIFT_BIN",
  args: [],
});

const burnMlx = binaryRunner({
  name: "burn-mlx",
  readyFramework: "burn-mlx",
  description: `Burn 0.16 + burn-mlx 0.1.2 (Rust): Qwen3 on the MLX backend, on Metal (on Linux, BENCH_BURN_MLX=${BURN_MLX_LINUX_CPU}: MLX ${MLX_CPU_VERSION}'s CPU backend from the mlx-cpu wheel); f32 only`,
  binary: burnMlxBinary,
  prebuilt: () => Boolean(process.env.BENCH_BURN_MLX_BIN),
  build: buildBurnMlx,
  notHere: async () =>
    (await platformFacts()).appleSilicon || burnMlxLinuxCpuRequested() ? null : `needs macOS on Apple Silicon, or Linux with BENCH_BURN_MLX=${BURN_MLX_LINUX_CPU}`,
  notBuiltHint: "run `npx qwen3-bench setup` (cargo, cmake) or set BENCH_BURN_MLX_BIN",
  args: ["--backend", "mlx"],
});

/** The Burn runner (runners/burn) built with its `metal` feature: burn-wgpu with the MSL compiler. */
const burnMetal: Framework = {
  name: "burn-metal",
  readyFramework: "burn",
  flags: BURN_FLAGS,
  description: "Burn (Rust): Qwen3 on Burn's wgpu backend compiling to Metal (MSL), fusion and autotune on",
  async probe() {
    const reason = await notAppleSilicon();
    if (reason) return { available: false, reason };
    const backends = await compiledBackends();
    if (backends === null) return { available: false, reason: `not built: run \`npx qwen3-bench setup\` (cargo) or set BENCH_BURN_BIN (${burnBinary()} missing)` };
    if (!backends.includes("metal")) return { available: false, reason: `${burnBinary()} was built without the metal feature (has: ${backends.join(", ")})` };
    return { available: true, reason: `${burnBinary()} (backends: ${backends.join(", ")})` };
  },
  async setup() {
    if (await notAppleSilicon()) return;
    // burnFeatures() is cpu+metal on Apple Silicon, so this is the same build burn-cpu uses.
    await buildBurn();
  },
  async launch(modelDir, dtype) {
    return { framework: "burn-metal", command: burnBinary(), args: ["--model", modelDir, "--dtype", dtype, "--backend", "metal"] };
  },
};

/** The runners that need macOS on Apple Silicon; bench/harness/frameworks.ts appends them to FRAMEWORKS. */
export const APPLE_FRAMEWORKS: Framework[] = [mlxSwift, burnMetal, burnMlx];
