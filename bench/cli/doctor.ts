import { existsSync } from "node:fs";
import { join } from "node:path";
import { locateCachedHubModel } from "../harness/model/hub.ts";
import { hubName } from "../harness/model/hub-source.ts";
import { checkModelDir } from "../harness/model/validate.ts";
import { platformFacts } from "../harness/host/platform.ts";
import { selectFrameworks } from "../harness/plan.ts";
import { hostSettings, readSettings } from "../harness/settings.ts";
import { probeFramework } from "../harness/setup/outcome.ts";
import { probeVariant } from "../harness/variants.ts";

/** `qwen3-bench doctor`: every known runner, available here or not and why; the model's state. */
export async function doctorCommand(): Promise<void> {
  const settings = readSettings();
  const facts = await platformFacts(hostSettings().LD_LIBRARY_PATH);
  console.log(`platform: ${facts.os}/${facts.arch}${facts.appleSilicon ? ", Apple Silicon" : ""}${facts.nvidiaGpu ? ", NVIDIA GPU" : ""}${facts.vulkanLoader ? ", Vulkan loader" : ""}`);
  console.log("runners:");
  for (const { framework } of selectFrameworks({ ...settings, frameworks: null })) {
    const probe = await probeFramework(framework);
    console.log(`  ${probe.available ? "available  " : "unavailable"}  ${framework.name.padEnd(14)} ${probe.reason}`);
    // Label flags (BENCH_FRAMEWORKS=burn-cpu[attention=explicit]), so variants are discoverable here.
    for (const [name, flag] of Object.entries(framework.flags ?? {})) console.log(`  ${"".padEnd(11)}  ${"".padEnd(14)} [${name}=${flag.values.join("|")}]: ${flag.description}`);
  }
  // BENCH_FRAMEWORKS's labels with flags: one may need what its plain runner does not (another
  // build: llama-cpp[backend=vulkan]), so each says for itself whether it runs, as its skip line would.
  const labelled = settings.frameworks ? selectFrameworks(settings).filter((v) => v.label !== v.framework.name) : [];
  if (labelled.length) console.log("labels (BENCH_FRAMEWORKS):");
  for (const variant of labelled) {
    const probe = await probeVariant(variant);
    console.log(`  ${probe.available ? "available  " : "unavailable"}  ${variant.label} ${probe.reason}`);
  }
  const source = settings.model;
  if (source.kind === "hub") {
    // The cache only: doctor makes no request (setup or the first bench run downloads what is missing).
    const cached = locateCachedHubModel(source, settings.hub);
    if (!cached.dir || cached.missing.length) {
      const state = !cached.commit ? `not in the hub cache ${settings.hub.cacheDir}` : !cached.dir ? `commit ${cached.commit} not in the hub cache` : `cached snapshot ${cached.dir} lacks ${cached.missing.join(", ")}`;
      console.log(`model: ${hubName(source)}: ${state} (${settings.hub.offline ? "HF_HUB_OFFLINE is set: download it elsewhere or unset it" : `setup or the first bench run downloads it from ${settings.hub.endpoint}`})`);
      return;
    }
    const model = checkModelDir(cached.dir);
    console.log(`model: ${hubName(source)} = commit ${cached.commit}, ${model.dir}: OK (${model.config.num_hidden_layers} layers, hidden ${model.config.hidden_size})`);
    return;
  }
  if (source.isDefault && !existsSync(join(source.dir, "model.safetensors"))) {
    console.log(`model: ${source.dir} not generated yet (setup or the first bench run generates it)`);
    return;
  }
  const model = checkModelDir(source.dir);
  console.log(`model: ${model.dir}: OK (${model.config.num_hidden_layers} layers, hidden ${model.config.hidden_size}${model.manifest ? `, synthetic weights, seed ${model.manifest.seed}` : ""})`);
}
