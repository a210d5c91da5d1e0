import { join } from "node:path";
import { RUNNERS_DIR } from "../paths.ts";
import { runLogged, tryOutput } from "../host/command.ts";
import { hostSettings } from "../settings.ts";

const mlxSwiftDir = join(RUNNERS_DIR, "mlx-swift-runner");

/** BENCH_MLX_SWIFT_BIN, or xcodebuild's products folder (the MLX Metal library, mlx-swift_Cmlx.bundle, sits beside the binary). */
export const mlxSwiftBinary = (): string =>
  hostSettings().BENCH_MLX_SWIFT_BIN ?? join(mlxSwiftDir, ".build", "xcode", "Build", "Products", "Release", "qwen3-mlx-swift-runner");

/**
 * xcodebuild, not `swift build`: SwiftPM on the command line cannot compile MLX's Metal shaders
 * (mlx-swift README, "SwiftPM"), and a binary without them fails on its first GPU op. Always runs:
 * xcodebuild decides what is stale (uncommitted edits included).
 */
export async function buildMlxSwift(): Promise<void> {
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
