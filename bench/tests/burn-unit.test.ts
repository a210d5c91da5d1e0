// The Burn runner's own unit tests (runners/burn, `cargo test`): the model's parts against each other
// on Burn's CPU backend (chunked prefill against one pass under every attention setting, greedy decode
// against a teacher-forced prefill, the command line's defaults and errors, the protocol server).
// Built with this machine's features into the harness's cargo target, so the dependencies the
// runner's release build compiled are reused and only the test binary is new.
import { join } from "node:path";
import { expect, test } from "vitest";
import { runLogged, tryOutput } from "../harness/host/command.ts";
import { RUNNERS_DIR } from "../harness/paths.ts";
import { burnFeatures, burnTargetDir } from "../harness/setup/burn-build.ts";

const cargo = await tryOutput("cargo", ["--version"]);

test.skipIf(cargo === null)("the Burn runner's unit tests pass (cargo test --release, this machine's features)", async () => {
  const features = await burnFeatures();
  const manifest = join(RUNNERS_DIR, "burn", "Cargo.toml");
  // A failure throws with the last lines of cargo's output: the failing test's name and assertion.
  await expect(
    runLogged("cargo test (runners/burn)", "cargo", ["test", "--release", "--features", features.join(","), "--manifest-path", manifest], {
      env: { CARGO_TARGET_DIR: burnTargetDir() },
      quiet: true,
    }),
  ).resolves.toBeUndefined();
}, 1_800_000);
