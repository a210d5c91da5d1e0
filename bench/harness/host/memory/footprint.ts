import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { runLogged, tryOutput } from "../command.ts";
import { footprintHelper } from "./sampler.ts";

/** macOS: compiles the physical-footprint helper (footprint.c) into the project's cache folder once; elsewhere nothing to do. */
export async function buildFootprintHelper(cacheDir: string): Promise<void> {
  const helper = footprintHelper(cacheDir);
  if (process.platform !== "darwin" || existsSync(helper)) return;
  if ((await tryOutput("cc", ["--version"])) === null) return;
  mkdirSync(dirname(helper), { recursive: true });
  await runLogged("setup memory sampler", "cc", ["-O2", "-o", helper, new URL("./footprint.c", import.meta.url).pathname]);
}
