import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { runLogged, tryOutput } from "../command.ts";
import { FOOTPRINT_HELPER } from "./sampler.ts";

/** macOS: compiles the physical-footprint helper (footprint.c) once; elsewhere nothing to do. */
export async function buildFootprintHelper(): Promise<void> {
  if (process.platform !== "darwin" || existsSync(FOOTPRINT_HELPER)) return;
  if ((await tryOutput("cc", ["--version"])) === null) return;
  mkdirSync(dirname(FOOTPRINT_HELPER), { recursive: true });
  await runLogged("setup memory sampler", "cc", ["-O2", "-o", FOOTPRINT_HELPER, new URL("./footprint.c", import.meta.url).pathname]);
}
