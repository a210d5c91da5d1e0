// A runner's setup that failed says why where the user looks: `qwen3-bench doctor` and the bench's
// skip line read the short reason recorded here, not only "not built". setupFrameworks records the
// outcome of every framework's setup (any kind: cargo, cmake, uv, swift), probeFramework reads it.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Availability, Framework } from "../framework.ts";
import { benchCacheDir } from "../settings.ts";

/** Known causes of a failed build, by what their tools print, most specific first: the cause in a few words and what fixes it. */
const CAUSES: Array<[RegExp, string]> = [
  [/Unable to find libclang|valid shared libraries matching: \['libclang/, "libclang not found: bindgen needs it (apt-get install libclang-dev, or set LIBCLANG_PATH to the folder holding libclang.so)"],
  [/\bcmake not found|is `cmake` not installed|spawn cmake ENOENT|\bcmake: (command )?not found|failed to execute command: No such file or directory \(os error 2\)\s*is `cmake`/, "cmake not found (apt-get install cmake)"],
  [/No CMAKE_(C|CXX)_COMPILER could be found|CMAKE_(C|CXX)_COMPILER:?\s*\S*\s*is not a full path to an existing compiler|failed to find tool "(c\+\+|cc|gcc|g\+\+|clang\+\+)"|linker `cc` not found|spawn (cc|c\+\+|gcc|g\+\+) ENOENT/, "no C/C++ compiler found (apt-get install build-essential)"],
  [/\bcargo not found|spawn cargo ENOENT|\bcargo: (command )?not found/, "cargo not found: install Rust (rustup)"],
  [/\bswift: (command )?not found|spawn swift ENOENT/, "swift not found (Xcode or a Swift toolchain)"],
  [/\buv not found|spawn uv ENOENT/, "uv not found (pip install uv)"],
  [/No space left on device/, "no space left on device"],
  [/Could not resolve host|Temporary failure in name resolution|Network is unreachable|failed to (download|fetch) from|failed to get `[^`]+` as a dependency/, "a download failed: no network? (offline hosts: scripts/offline-pack.sh)"],
  [/spawn (\S+) ENOENT/, "$1 not found on PATH"],
];

/** The cause of a failed setup in a line, from its error message and the tail of its log: a known cause, else the message's first line. */
export function failureReason(message: string): string {
  for (const [pattern, reason] of CAUSES) {
    const match = message.match(pattern);
    if (match) return reason.replace("$1", match[1] ?? "");
  }
  const first = message.split("\n").find((line) => line.trim() !== "")?.trim() ?? "unknown error";
  return first.length > 200 ? `${first.slice(0, 199)}…` : first;
}

/** What a failed setup left behind for doctor and the skip line. */
export interface SetupFailure {
  /** ISO time of the failure. */
  at: string;
  /** failureReason of the error. */
  reason: string;
}

const failuresDir = (): string => join(benchCacheDir(), "setup-failures");
const failureFile = (name: string): string => join(failuresDir(), `${name}.json`);

/** Records a framework's setup outcome: the reason of its error, or, on success, nothing (an earlier failure is forgotten). */
export function recordSetupOutcome(name: string, error: Error | null): void {
  if (error === null) {
    rmSync(failureFile(name), { force: true });
    return;
  }
  mkdirSync(failuresDir(), { recursive: true });
  const failure: SetupFailure = { at: new Date().toISOString(), reason: failureReason(error.message) };
  writeFileSync(failureFile(name), `${JSON.stringify(failure)}\n`);
}

/** The last setup failure of a framework, or null when its last setup succeeded or none ran. */
export function setupFailure(name: string): SetupFailure | null {
  try {
    return JSON.parse(readFileSync(failureFile(name), "utf8")) as SetupFailure;
  } catch {
    return null;
  }
}

/** The framework's availability (for a label's runner flags); where it is unavailable after a failed setup, the reason starts with that failure's cause. */
export async function probeFramework(framework: Framework, flags: Array<[string, string]> = []): Promise<Availability> {
  const probe = await framework.probe(flags);
  const failure = probe.available ? null : setupFailure(framework.name);
  return failure ? { available: false, reason: `setup failed (${failure.at}): ${failure.reason}; ${probe.reason}` } : probe;
}
