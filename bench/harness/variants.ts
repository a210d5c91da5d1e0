import { accessSync, constants } from "node:fs";
import { frameworkByName, type Availability, type Framework } from "./frameworks.ts";
import { formatFrameworkLabel, labelFileStem, parseFrameworkLabel } from "./framework-label.ts";
import type { LaunchSpec } from "./runner-process.ts";
import { probeFramework } from "./setup/outcome.ts";
import { DTYPE_FLAG, dtypeUnsupported } from "./precision.ts";
import { Dtype } from "./schema/model-config.ts";
import { processEnvironment } from "./settings.ts";

/**
 * A framework as a run names it: a registered framework, the runner flags its label sets, and the
 * build whose runner program it starts. `burn-cpu` itself is the variant with no flags and the
 * default build.
 */
export interface Variant {
  /** Canonical label (flags in the framework's declaration order): results file, tables, charts. */
  label: string;
  framework: Framework;
  /** [flag, value] pairs, in the framework's declaration order. */
  flags: Array<[string, string]>;
  /** Build name (`burn-cpu@head` → "head"), or null. */
  build: string | null;
  /** The program that replaces the framework's runner command (BENCH_BIN_<BUILD>), or null. */
  binary: string | null;
  /** The dtype the label's `dtype` flag sets (harness/precision.ts), or null: the run's dtype. Not a runner flag. */
  dtype: Dtype | null;
}

/** Environment variable holding the runner program of a build: `head` → BENCH_BIN_HEAD. */
export const buildBinaryEnv = (build: string): string => `BENCH_BIN_${build.toUpperCase().replace(/-/g, "_")}`;

/**
 * Resolves a label against the framework list: unknown framework, flag or value, or a build without
 * its BENCH_BIN_<BUILD>, is one error naming BENCH_FRAMEWORKS.
 */
export function resolveVariant(text: string, env: NodeJS.ProcessEnv = processEnvironment()): Variant {
  const parsed = parseFrameworkLabel(text);
  const framework = frameworkByName(parsed.base);
  const dtypeValue = parsed.flags.find(([name]) => name === DTYPE_FLAG)?.[1];
  if (dtypeValue !== undefined && !Dtype.safeParse(dtypeValue).success) throw new Error(`BENCH_FRAMEWORKS: ${text}: flag dtype takes ${Dtype.options.join(" or ")}, got ${JSON.stringify(dtypeValue)}`);
  const dtype = dtypeValue === undefined ? null : Dtype.parse(dtypeValue);
  const runnerFlags = parsed.flags.filter(([name]) => name !== DTYPE_FLAG);
  const declared = framework.flags ?? {};
  const names = Object.keys(declared);
  for (const [name, value] of runnerFlags) {
    const flag = declared[name];
    if (!flag) {
      const accepts = names.length ? `accepts: ${names.join(", ")}` : "it accepts no flags";
      throw new Error(`BENCH_FRAMEWORKS: ${text}: unknown flag ${JSON.stringify(name)} for ${framework.name} (${accepts})`);
    }
    if (!flag.values.includes(value)) {
      throw new Error(`BENCH_FRAMEWORKS: ${text}: flag ${name} takes ${flag.values.join(" or ")}, got ${JSON.stringify(value)}`);
    }
  }
  const flags = names.flatMap((name): Array<[string, string]> => {
    const given = runnerFlags.find(([n]) => n === name);
    return given ? [given] : [];
  });
  let binary: string | null = null;
  if (parsed.build !== null) {
    const variable = buildBinaryEnv(parsed.build);
    binary = env[variable] || null;
    if (!binary) throw new Error(`BENCH_FRAMEWORKS: ${text}: build ${JSON.stringify(parsed.build)} needs ${variable}=PATH, the runner program of that build`);
    try {
      accessSync(binary, constants.X_OK);
    } catch {
      throw new Error(`${variable}: ${binary} is not an executable file (runner program of build ${JSON.stringify(parsed.build)} in BENCH_FRAMEWORKS)`);
    }
  }
  const labelFlags: Array<[string, string]> = dtype === null ? flags : [...flags, [DTYPE_FLAG, dtype]];
  return { label: formatFrameworkLabel({ base: framework.name, flags: labelFlags, build: parsed.build }), framework, flags, build: parsed.build, binary, dtype };
}

/** Resolves BENCH_FRAMEWORKS's labels; two labels that are the same variant (or file name) are an error. */
export function resolveVariants(texts: string[], env: NodeJS.ProcessEnv = processEnvironment()): Variant[] {
  const variants = texts.map((t) => resolveVariant(t, env));
  const stems = new Map<string, string>();
  for (const v of variants) {
    const stem = labelFileStem(v.label);
    const other = stems.get(stem);
    if (other !== undefined) throw new Error(`BENCH_FRAMEWORKS: ${other} and ${v.label} name the same variant (results file ${stem}_results.json)`);
    stems.set(stem, v.label);
  }
  return variants;
}

/** The plain variant of a registered framework. */
export const plainVariant = (framework: Framework): Variant => ({ label: framework.name, framework, flags: [], build: null, binary: null, dtype: null });

/** Whether the variant can run here: its framework's availability (a build's program was checked when resolved). */
export async function probeVariant(variant: Variant): Promise<Availability> {
  const base = await probeFramework(variant.framework, variant.flags);
  const unsupported = variant.dtype === null ? null : dtypeUnsupported(variant.framework, variant.dtype);
  if (base.available && unsupported) return { available: false, reason: unsupported };
  if (!base.available || variant.binary === null) return base;
  return { available: true, reason: `${variant.binary} (${buildBinaryEnv(variant.build!)}); ${base.reason}` };
}

/** The framework's launch command with the build's program and the flags' arguments; a label's own dtype replaces the run's. */
export async function launchVariant(variant: Variant, modelDir: string, runDtype: Dtype): Promise<LaunchSpec> {
  const dtype = variant.dtype ?? runDtype;
  const spec = await variant.framework.launch(modelDir, dtype, variant.flags);
  const flagArgs = variant.flags.flatMap(([name, value]) => variant.framework.flags![name].args(value));
  return { ...spec, framework: variant.label, command: variant.binary ?? spec.command, args: [...spec.args, ...flagArgs] };
}
