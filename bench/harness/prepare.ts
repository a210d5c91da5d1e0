import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildFootprintHelper } from "./host/memory/footprint.ts";
import { selectFrameworks } from "./plan.ts";
import { PRESETS, type PresetName } from "./model/presets.ts";
import { synthesizeModel } from "./model/synth.ts";
import { resolveHubModel, type HubModel } from "./model/hub.ts";
import { hubName } from "./model/hub-source.ts";
import { checkModelDir, type CheckedModel } from "./model/validate.ts";
import { MODELS_DIR } from "./paths.ts";
import { recordSetupOutcome } from "./setup/outcome.ts";
import { SynthManifest } from "./schema/model-config.ts";
import { benchCacheDir, type Settings } from "./settings.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Generates a synthetic model folder unless it is already complete. `exact`: also unless its
 * manifest says the preset, dtype and seed asked for (the test models, whose goldens are of those
 * bytes: a folder overwritten by hand with another dtype is generated again, not silently used).
 */
export function ensureSynthetic(dir: string, preset: PresetName, dtype: "bf16" | "f32", exact = false): void {
  const manifestFile = join(dir, "manifest.json");
  if (existsSync(join(dir, "model.safetensors")) && existsSync(manifestFile)) {
    if (!exact) return;
    const manifest = SynthManifest.safeParse(JSON.parse(readFileSync(manifestFile, "utf8")));
    if (manifest.success && manifest.data.preset === preset && manifest.data.dtype === dtype && manifest.data.seed === 0) return;
    log(`qwen3-bench: ${manifestFile} is not the ${preset} preset in ${dtype} with seed 0: generating it again`);
  }
  log(`qwen3-bench: generating synthetic ${preset} model in ${dir} (seed 0, ${dtype})`);
  synthesizeModel({ config: PRESETS[preset], preset, dtype, seed: 0, outDir: dir, log });
}

/** The tiny models the tests use (untied and tied), f32. */
export const TEST_MODELS = {
  tiny: join(MODELS_DIR, "qwen3-tiny-f32"),
  tinyTied: join(MODELS_DIR, "qwen3-tiny-tied-f32"),
};

export function ensureTestModels(): void {
  ensureSynthetic(TEST_MODELS.tiny, "tiny", "f32", true);
  ensureSynthetic(TEST_MODELS.tinyTied, "tiny-tied", "f32", true);
}

/**
 * The benchmark model: MODEL_PATH's folder, or its hub name resolved to a snapshot folder of the
 * Hugging Face cache (downloaded where missing), or the default synthetic Qwen3-0.6B generated on
 * first use. A hub model's results record carries its repo, commit and file hashes.
 */
export async function ensureBenchModel(settings: Settings): Promise<CheckedModel> {
  const source = settings.model;
  if (source.kind === "folder") {
    if (source.isDefault) ensureSynthetic(source.dir, "0.6b", "bf16");
    return checkModelDir(source.dir);
  }
  const hub = await resolveHubModel(source, settings.hub, { log }).catch(inMODEL_PATH(source));
  return withHubOrigin(checkModelDir(hub.dir), hub);
}

/** A hub error as MODEL_PATH's: the name was no folder here, which a mistyped path also is. */
const inMODEL_PATH = (source: { repoId: string; revision: string }) => (e: Error): never => {
  throw new Error(`MODEL_PATH=${hubName(source)} (no such folder here, so a Hugging Face repo name): ${e.message}`, { cause: e });
};

/** A checked snapshot folder whose results record names the repo (not the commit-named folder) and carries the hub's provenance. */
const withHubOrigin = (checked: CheckedModel, hub: HubModel): CheckedModel => ({
  ...checked,
  info: (dtype) => ({ ...checked.info(dtype), name: hub.origin.repo_id, hub: hub.origin }),
});

/** The folder holding the prompt tokenizer's files: MODEL_PATH's folder, or for a hub name only those files, downloaded where missing. */
export async function tokenizerFolder(settings: Settings): Promise<string> {
  const source = settings.model;
  return source.kind === "folder" ? source.dir : (await resolveHubModel(source, settings.hub, { parts: "tokenizer", log }).catch(inMODEL_PATH(source))).dir;
}

/**
 * Installs or builds every selected framework this machine can run; failures are reported, not fatal.
 * Two at a time: a download-bound install (a Python runner's venv) then overlaps a CPU-bound build
 * (cargo), which on a fresh clone saves the whole install time.
 */
export async function setupFrameworks(settings: Settings): Promise<void> {
  await buildFootprintHelper(benchCacheDir()).catch((e) => log(`qwen3-bench setup: the macOS memory sampler could not be built: ${(e as Error).message}`));
  // Variants of one framework (`burn-cpu`, `burn-cpu[attention=explicit]`) share its setup, which
  // sees every variant's flags (llama-cpp builds one backend per `backend=`).
  const variants = selectFrameworks(settings);
  const queue = [...new Set(variants.map((v) => v.framework))];
  const worker = async () => {
    for (let framework = queue.shift(); framework; framework = queue.shift()) {
      try {
        await framework.setup(variants.filter((v) => v.framework === framework).map((v) => v.flags));
        recordSetupOutcome(framework.name, null);
      } catch (e) {
        log(`qwen3-bench setup: ${framework.name} could not be set up: ${(e as Error).message}`);
        recordSetupOutcome(framework.name, e as Error);
      }
    }
  };
  await Promise.all([worker(), worker()]);
}
