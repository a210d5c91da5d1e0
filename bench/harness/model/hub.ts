import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { z } from "zod";
import type { HubOrigin } from "../schema/results.ts";
import { HubRepoCache } from "./hub-cache.ts";
import { sha256OfFile } from "./hub-digest.ts";
import { HubClient, HubError, type DownloadOptions } from "./hub-http.ts";
import { hubName, isCommitHash, type HubConfig } from "./hub-source.ts";

/**
 * A Hugging Face repo name resolved to a folder, as huggingface_hub's snapshot_download does it:
 * the revision API gives the commit and the file list, each missing file is fetched into the shared
 * cache (hub-cache.ts) and linked into snapshots/<commit>/, which is the folder every runner loads.
 * With a full commit hash whose snapshot is complete, or with HF_HUB_OFFLINE, no request is made.
 */

/** The files a part of the model needs, beyond the weights. Optional ones are fetched when the repo has them. */
const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json"];
// manifest.json: a model `qwen3-bench synth` wrote and someone pushed stays labelled synthetic in results.
const OPTIONAL_FILES = ["generation_config.json", "chat_template.jinja", "manifest.json"];
const SINGLE = "model.safetensors";
const INDEX = "model.safetensors.index.json";
const ShardIndex = z.looseObject({ weight_map: z.record(z.string(), z.string()) });

/** "model": everything a runner loads; "tokenizer": what the harness's prompt tokenizer reads (`qwen3-bench tokenize`). */
export type HubParts = "model" | "tokenizer";

export interface HubModel {
  /** snapshots/<commit>/: an ordinary model folder (its files are symlinks into blobs/). */
  dir: string;
  origin: HubOrigin;
}

export interface ResolveOptions {
  parts?: HubParts;
  log?: (line: string) => void;
  download?: DownloadOptions;
}

/** What a snapshot in the cache holds of the files `parts` needs. */
export interface CachedSnapshot {
  /** The commit the revision names in the cache (itself, or refs/<revision>); null when the cache does not know it. */
  commit: string | null;
  dir: string | null;
  /** Files present, in the repo's paths. */
  present: string[];
  /** Files missing, in the repo's paths (the shards once the index is there). */
  missing: string[];
}

const short = (commit: string) => commit.slice(0, 12);

/** The files of `parts` in a snapshot folder: the weights are model.safetensors, else the index and its shards. */
function snapshotNeeds(dir: string, parts: HubParts): { required: string[]; optional: string[] } {
  if (parts === "tokenizer") return { required: TOKENIZER_FILES, optional: ["chat_template.jinja"] };
  const required = ["config.json", ...TOKENIZER_FILES];
  if (existsSync(`${dir}/${SINGLE}`) || !existsSync(`${dir}/${INDEX}`)) required.push(SINGLE);
  else required.push(INDEX, ...shardsOf(`${dir}/${INDEX}`));
  return { required, optional: OPTIONAL_FILES };
}

/** The shard files an index names, sorted. */
function shardsOf(indexFile: string): string[] {
  let parsed: z.infer<typeof ShardIndex>;
  try {
    parsed = ShardIndex.parse(JSON.parse(readFileSync(indexFile, "utf8")));
  } catch (e) {
    throw new Error(`${indexFile}: not a safetensors index with a weight_map (${(e as Error).message})`);
  }
  return [...new Set(Object.values(parsed.weight_map))].sort();
}

/** What the cache alone holds of `ref` (no request). */
export function locateCachedHubModel(ref: { repoId: string; revision: string }, config: HubConfig, parts: HubParts = "model"): CachedSnapshot {
  const cache = new HubRepoCache(config.cacheDir, ref.repoId);
  const commit = cache.commitOf(ref.revision);
  if (!commit || !existsSync(cache.snapshotDir(commit))) return { commit, dir: null, present: [], missing: [] };
  const dir = cache.snapshotDir(commit);
  const { required, optional } = snapshotNeeds(dir, parts);
  const present = [...required, ...optional].filter((f) => existsSync(cache.snapshotFile(commit, f)));
  return { commit, dir, present, missing: required.filter((f) => !present.includes(f)) };
}

/** The folder and provenance of a complete snapshot; throws naming what is missing otherwise. */
function fromCache(ref: { repoId: string; revision: string }, config: HubConfig, parts: HubParts, why: string, hashes: Map<string, string>): HubModel {
  const cache = new HubRepoCache(config.cacheDir, ref.repoId);
  const found = locateCachedHubModel(ref, config, parts);
  if (!found.commit) {
    throw new Error(`${why}: ${hubName(ref)} is not in the hub cache: ${cache.root}/refs/${ref.revision} does not exist (run once online, or set MODEL_PATH to a model folder)`);
  }
  if (!found.dir) throw new Error(`${why}: ${hubName(ref)} (commit ${found.commit}) is not in the hub cache: ${cache.snapshotDir(found.commit)} does not exist`);
  if (found.missing.length) throw new Error(`${why}: the cached snapshot ${found.dir} of ${hubName(ref)} lacks ${found.missing.join(", ")}`);
  return { dir: found.dir, origin: originOf(ref, config, found.commit, found.present, cache, hashes, true) };
}

/** The provenance record: each file's size and sha256, checked against its blob's name where that is a sha256 (an LFS file). */
function originOf(ref: { repoId: string; revision: string }, config: HubConfig, commit: string, files: string[], cache: HubRepoCache, hashes: Map<string, string>, offline: boolean): HubOrigin {
  const records = [...files].sort().map((path) => {
    const file = cache.snapshotFile(commit, path);
    const blob = basename(realpathSync(file));
    const sha256 = hashes.get(blob) ?? sha256OfFile(file);
    if (/^[0-9a-f]{64}$/.test(blob) && blob !== sha256) {
      throw new Error(`${file}: content sha256 ${sha256} differs from its blob's name ${blob} (a corrupted cache): delete ${realpathSync(file)} and run again`);
    }
    return { path, bytes: statSync(file).size, sha256 };
  });
  return { repo_id: ref.repoId, revision: ref.revision, commit, endpoint: config.endpoint, offline, files: records };
}

/** Files the repo's listing says `parts` needs (the shards come later, from the index); throws naming the repo and the file. */
function wantedFiles(listed: string[], parts: HubParts, what: string): string[] {
  const need = parts === "tokenizer" ? TOKENIZER_FILES : ["config.json", ...TOKENIZER_FILES];
  const absent = need.filter((f) => !listed.includes(f));
  if (absent.length) throw new Error(`${what}: the repo has no ${absent.join(", ")} (its files: ${listed.join(", ")})`);
  const optional = (parts === "tokenizer" ? ["chat_template.jinja"] : OPTIONAL_FILES).filter((f) => listed.includes(f));
  if (parts === "tokenizer") return [...need, ...optional];
  const weights = listed.includes(SINGLE) ? SINGLE : listed.includes(INDEX) ? INDEX : null;
  if (!weights) {
    throw new Error(`${what}: the repo has neither ${SINGLE} nor ${INDEX} (its files: ${listed.join(", ")}); qwen3-bench loads safetensors checkpoints in the Hugging Face layout`);
  }
  return [...need, ...optional, weights];
}

/**
 * Resolves a hub name to a snapshot folder, downloading what the cache lacks. HF_HUB_OFFLINE:
 * the cache only. A hub that cannot be reached (no network, refused) falls back to the cache, as
 * huggingface_hub does, when the snapshot there is complete.
 */
export async function resolveHubModel(ref: { repoId: string; revision: string }, config: HubConfig, opts: ResolveOptions = {}): Promise<HubModel> {
  const parts = opts.parts ?? "model";
  const log = opts.log ?? (() => {});
  const hashes = new Map<string, string>();
  if (config.offline) return fromCache(ref, config, parts, "HF_HUB_OFFLINE is set", hashes);
  if (isCommitHash(ref.revision)) {
    const cached = locateCachedHubModel(ref, config, parts);
    if (cached.dir && cached.missing.length === 0) return fromCache(ref, config, parts, "a commit hash whose snapshot is cached", hashes);
  }
  const cache = new HubRepoCache(config.cacheDir, ref.repoId);
  const client = new HubClient(config.endpoint, bearerToken(config));
  let listing: { commit: string; files: string[] };
  try {
    listing = await client.revision(ref.repoId, ref.revision);
  } catch (e) {
    if (!(e instanceof HubError) || e.status !== null) throw e;
    log(`hub: ${e.message}; trying the cache`);
    return fromCache(ref, config, parts, `the hub at ${config.endpoint} cannot be reached (${e.message})`, hashes);
  }
  const { commit } = listing;
  // The ref first, as huggingface_hub does: a run that fails half-way leaves a cache that says which snapshot it was filling.
  cache.writeRef(ref.revision, commit);
  const what = `${hubName(ref)} (commit ${short(commit)}) on ${config.endpoint}`;
  const fetchFile = async (file: string) => {
    if (existsSync(cache.snapshotFile(commit, file))) return;
    const meta = await client.metadata(ref.repoId, commit, file);
    const blob = cache.blob(meta.etag);
    if (!existsSync(blob)) {
      mkdirSync(dirname(blob), { recursive: true });
      log(`hub: downloading ${ref.repoId}/${file}${meta.size === null ? "" : ` (${meta.size < 1e6 ? `${(meta.size / 1e3).toFixed(1)} kB` : `${(meta.size / 1e6).toFixed(1)} MB`})`} from ${new URL(meta.location).origin}`);
      hashes.set(meta.etag, await client.download(meta, `${blob}.incomplete`, blob, `${ref.repoId}@${short(commit)}: ${file}`, { log, ...opts.download }));
    }
    cache.linkSnapshotFile(commit, file, meta.etag);
  };
  const wanted = wantedFiles(listing.files, parts, what);
  for (const file of wanted) await fetchFile(file);
  if (wanted.includes(INDEX)) {
    const shards = shardsOf(cache.snapshotFile(commit, INDEX));
    const unlisted = shards.filter((s) => !listing.files.includes(s));
    if (unlisted.length) throw new Error(`${what}: ${INDEX} names ${unlisted.join(", ")}, which the repo does not have`);
    for (const shard of shards) await fetchFile(shard);
  }
  const found = locateCachedHubModel({ repoId: ref.repoId, revision: commit }, config, parts);
  if (found.missing.length) throw new Error(`${what}: after the download, ${found.dir} still lacks ${found.missing.join(", ")}`);
  return { dir: cache.snapshotDir(commit), origin: originOf(ref, config, commit, found.present, cache, hashes, false) };
}

/** HF_TOKEN, else the token file `hf auth login` writes; null for anonymous requests. */
function bearerToken(config: HubConfig): string | null {
  if (config.token) return config.token;
  if (!existsSync(config.tokenFile)) return null;
  return readFileSync(config.tokenFile, "utf8").trim() || null;
}
