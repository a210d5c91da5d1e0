import type { ResultsFile } from "../harness/schema/results.ts";
import type { ResultsModel } from "./summary.ts";

/** Knobs that say where results go, not what was measured: left out when two runs are compared. */
const WHERE_KNOBS = new Set(["BENCH_RESULTS_DIR"]);

const join = (values: Iterable<string>) => [...new Set(values)].join("; ");

/** A runner's build as one phrase: "commit abc1234 (dirty), release, features cpu, fusion, built 2026-11-29T…"; null when the runner embeds none. */
export function runnerBuildText(results: ResultsFile): string | null {
  const build = results.ready.build;
  if (!build) return null;
  const parts = [
    build.commit === undefined ? null : `commit ${build.commit}${build.dirty ? " (dirty)" : ""}`,
    build.profile ?? null,
    build.features?.length ? `features ${build.features.join(", ")}` : null,
    build.built_at === undefined ? null : `built ${build.built_at}`,
  ].filter((p): p is string => p !== null);
  return parts.length ? parts.join(", ") : null;
}

/**
 * What produced the results, as label/value pairs for the report's setup facts: harness commit,
 * runner builds, a hub model's repo, commit and file hashes, lockfile hashes, command, knobs, driver.
 * Files written before provenance was recorded say so.
 */
export function provenanceFacts(model: ResultsModel): Array<[string, string]> {
  const facts: Array<[string, string]> = [];
  const files = model.files;
  const withProvenance = files.filter((f) => f.results.provenance);
  if (withProvenance.length < files.length) {
    facts.push(["Provenance", `not recorded in ${files.filter((f) => !f.results.provenance).map((f) => f.label).join(", ")} (written before the harness recorded it)`]);
  }
  for (const { label, results } of files) {
    const build = runnerBuildText(results);
    if (build) facts.push([`Runner build (${label})`, build]);
  }
  const hubs = files.map((f) => f.results.model.hub).filter((h) => h != null);
  if (hubs.length) {
    facts.push(["Model source", join(hubs.map((h) => `${h.repo_id}@${h.revision} = commit ${h.commit} from ${h.endpoint}${h.offline ? " (served from the local cache)" : ""}`))]);
    facts.push(["Model files (sha256)", join(hubs.flatMap((h) => h.files.map((f) => `${f.path} ${f.sha256.slice(0, 12)}`)))]);
  }
  if (withProvenance.length === 0) return facts;
  const p = withProvenance.map((f) => f.results.provenance!);
  facts.push(["Harness commit", join(p.map((x) => x.harness.commit ?? "unknown (no git)"))]);
  facts.push(["Node", join(p.map((x) => x.node))]);
  const drivers = p.map((x) => x.gpu_driver).filter((d): d is string => d !== null);
  if (drivers.length) facts.push(["GPU driver", join(drivers)]);
  facts.push(["Command", join(p.map((x) => x.command.join(" ")))]);
  facts.push(["Knobs", join(p.map((x) => Object.entries(x.env).map(([k, v]) => `${k}=${v}`).join(" ") || "none set"))]);
  facts.push(["Lockfiles (sha256)", join(p.flatMap((x) => Object.entries(x.lockfiles).map(([path, hash]) => `${path} ${hash.slice(0, 12)}`)))]);
  return facts;
}

/**
 * Everything but the framework label in which two results files of one framework differ and that
 * could change its speed: harness commit, lockfiles, framework version, runner build, backend,
 * device, precision, driver, knobs, host, model, profile. Plain sentences, empty when they match.
 */
export function provenanceDifferences(baseline: ResultsFile, candidate: ResultsFile): string[] {
  const differences: string[] = [];
  const differ = (what: string, a: unknown, b: unknown) => {
    const [ta, tb] = [JSON.stringify(a ?? null), JSON.stringify(b ?? null)];
    if (ta !== tb) differences.push(`${what}: ${ta} vs ${tb}`);
  };
  const pa = baseline.provenance;
  const pb = candidate.provenance;
  if (!pa || !pb) {
    differences.push(`provenance not recorded in the ${!pa && !pb ? "two files" : !pa ? "baseline" : "new"} (written before the harness recorded it): commits and lockfiles cannot be checked`);
  }
  differ("harness version", baseline.harness_version, candidate.harness_version);
  if (pa && pb) {
    const paths = [...new Set([...Object.keys(pa.lockfiles), ...Object.keys(pb.lockfiles)])].sort();
    for (const path of paths) if (pa.lockfiles[path] !== pb.lockfiles[path]) differences.push(`lockfile ${path}: ${pa.lockfiles[path]?.slice(0, 12) ?? "absent"} vs ${pb.lockfiles[path]?.slice(0, 12) ?? "absent"}`);
    differ("GPU driver", pa.gpu_driver, pb.gpu_driver);
    differ("Node", pa.node, pb.node);
    const knobs = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).filter(([k]) => !WHERE_KNOBS.has(k)));
    const [ka, kb] = [knobs(pa.env), knobs(pb.env)];
    for (const name of [...new Set([...Object.keys(ka), ...Object.keys(kb)])].sort()) {
      if (ka[name] !== kb[name]) differences.push(`knob ${name}: ${ka[name] ?? "unset"} vs ${kb[name] ?? "unset"}`);
    }
  }
  differ("framework version", baseline.framework_version, candidate.framework_version);
  differ("runner build", baseline.ready.build, candidate.ready.build);
  differ("backend", baseline.backend, candidate.backend);
  differ("device", baseline.device, candidate.device);
  differ("precision", baseline.precision, candidate.precision);
  differ("fusion", baseline.fusion, candidate.fusion);
  differ("autotune", baseline.autotune, candidate.autotune);
  differ("model config", baseline.model.config_sha256, candidate.model.config_sha256);
  differ("model commit", baseline.model.hub?.commit, candidate.model.hub?.commit);
  differ("model files", baseline.model.hub?.files.map((f) => `${f.path}:${f.sha256}`), candidate.model.hub?.files.map((f) => `${f.path}:${f.sha256}`));
  differ("profile", [baseline.profile, baseline.max_new_tokens], [candidate.profile, candidate.max_new_tokens]);
  differ("host", [baseline.host.hostname, baseline.host.cpu, baseline.host.os], [candidate.host.hostname, candidate.host.cpu, candidate.host.os]);
  return differences;
}
