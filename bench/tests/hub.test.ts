// Models by name (bench/harness/model/hub.ts) against a hub served here on 127.0.0.1 in the Hugging
// Face Hub's URL layout, never a real one: the revision API, /resolve/ with ETag and X-Repo-Commit,
// a relative redirect on the hub (its /api/resolve-cache/ route) and an absolute one to a CDN on
// another origin (LFS files, with X-Linked-Etag and X-Linked-Size), 404s, Range resumes after a
// connection cut mid-body, HF_HUB_OFFLINE and tokens.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { resolveHubModel, locateCachedHubModel } from "../harness/model/hub.ts";
import type { HubConfig } from "../harness/model/hub-source.ts";
import { PRESETS } from "../harness/model/presets.ts";
import { synthesizeModel } from "../harness/model/synth.ts";
import { checkModelDir } from "../harness/model/validate.ts";
import { ensureBenchModel } from "../harness/prepare.ts";
import { FIXTURES_DIR } from "../harness/paths.ts";
import { parseJsonFile } from "../harness/schema/parse.ts";
import { ModelInfo, ResultsFile } from "../harness/schema/results.ts";
import { readSettings } from "../harness/settings.ts";
import { provenanceDifferences, provenanceFacts } from "../report/provenance.ts";
import { buildModel } from "../report/summary.ts";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const gitOid = (b: Buffer) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const TOKEN = "hf_test_token";

interface Repo {
  commit: string;
  refs: Record<string, string>;
  files: Map<string, Buffer>;
}
interface Seen {
  server: "hub" | "cdn";
  method: string;
  path: string;
  authorization?: string;
  range?: string;
}

/**
 * The hub's answers as huggingface_hub expects them. A file is "LFS" when it is a .safetensors file:
 * /resolve/ redirects it to the CDN with X-Linked-Etag (its sha256) and X-Linked-Size; any other file
 * is redirected (relative Location) to /api/resolve-cache/, which answers with its git blob sha1 as ETag.
 */
class FakeHub {
  readonly repos = new Map<string, Repo>();
  readonly seen: Seen[] = [];
  /** Files listed in the repo but answered 404 (an index naming a shard the repo lost). */
  readonly gone = new Set<string>();
  /** CDN blob sha256 -> byte offset at which to cut the connection, and how many more times. */
  readonly cuts = new Map<string, { at: number; times: number }>();
  private hub!: Server;
  private cdn!: Server;
  hubUrl = "";
  cdnUrl = "";

  async start(): Promise<void> {
    this.hub = createServer((req, res) => this.serveHub(req, res));
    this.cdn = createServer((req, res) => this.serveCdn(req, res));
    for (const server of [this.hub, this.cdn]) await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    this.hubUrl = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.cdnUrl = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const server of [this.hub, this.cdn]) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  }

  private record(server: "hub" | "cdn", req: IncomingMessage): void {
    this.seen.push({ server, method: req.method!, path: req.url!, authorization: req.headers.authorization, range: req.headers.range });
  }

  private serveHub(req: IncomingMessage, res: ServerResponse): void {
    this.record("hub", req);
    const path = decodeURIComponent(new URL(req.url!, this.hubUrl).pathname);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(path);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const cached = /^\/api\/resolve-cache\/models\/([^/]+\/[^/]+)\/([0-9a-f]{40})\/(.+)$/.exec(path);
    const [repoId, revision, file] = (api ?? resolve ?? cached ?? []).slice(1);
    const repo = repoId ? this.repos.get(repoId) : undefined;
    if (!repo) return void res.writeHead(401, { "x-error-code": "RepoNotFound", "x-error-message": "Repository not found" }).end();
    const commit = revision === repo.commit ? repo.commit : repo.refs[revision];
    if (!commit) return void res.writeHead(404, { "x-error-code": "RevisionNotFound" }).end();
    if (api) {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ id: repoId, sha: commit, siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })) }));
    }
    const content = repo.files.get(file);
    if (!content || this.gone.has(file)) return void res.writeHead(404, { "x-error-code": "EntryNotFound", "x-repo-commit": commit }).end();
    if (file.endsWith(".safetensors")) {
      return void res
        .writeHead(302, {
          location: `${this.cdnUrl}/blobs/${sha256(content)}?signature=abc`,
          "x-linked-etag": `"${sha256(content)}"`,
          "x-linked-size": String(content.length),
          "x-repo-commit": commit,
          etag: `W/"not-the-blob"`,
        })
        .end();
    }
    if (resolve) return void res.writeHead(307, { location: `/api/resolve-cache/models/${repoId}/${commit}/${file}`, "x-repo-commit": commit }).end();
    res.writeHead(200, { etag: `"${gitOid(content)}"`, "x-repo-commit": commit, "content-length": String(content.length) });
    res.end(req.method === "HEAD" ? undefined : content);
  }

  private serveCdn(req: IncomingMessage, res: ServerResponse): void {
    this.record("cdn", req);
    const sha = /^\/blobs\/([0-9a-f]{64})/.exec(req.url!)?.[1];
    const content = [...this.repos.values()].flatMap((r) => [...r.files.values()]).find((c) => sha256(c) === sha);
    if (!content) return void res.writeHead(404).end();
    const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
    res.writeHead(from > 0 ? 206 : 200, {
      "content-length": String(content.length - from),
      ...(from > 0 ? { "content-range": `bytes ${from}-${content.length - 1}/${content.length}` } : {}),
    });
    const cut = this.cuts.get(sha!);
    if (cut && cut.times > 0) {
      cut.times--;
      // Send up to the cut offset, then drop the connection mid-body.
      res.write(content.subarray(from, Math.max(from, cut.at)), () => res.socket?.destroy());
      return;
    }
    res.end(content.subarray(from));
  }
}

const hub = new FakeHub();
let work: string;
let single: Map<string, Buffer>;
let sharded: Map<string, Buffer>;

const readFolder = (dir: string) => new Map(readdirSync(dir).filter((f) => f !== "manifest.json").map((f) => [f, readFileSync(join(dir, f))]));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "qwen3-bench-hub-"));
  const model = join(work, "model");
  synthesizeModel({ config: PRESETS["tiny-tied"], preset: "tiny-tied", dtype: "bf16", seed: 0, outDir: model });
  single = readFolder(model);
  single.set("generation_config.json", Buffer.from(JSON.stringify({ do_sample: false }) + "\n"));
  const shardedDir = join(work, "sharded");
  synthesizeModel({ config: PRESETS["tiny-tied"], preset: "tiny-tied", dtype: "bf16", seed: 0, outDir: shardedDir, shards: 2 });
  sharded = readFolder(shardedDir);
  hub.repos.set("test-org/tiny", { commit: COMMIT, refs: { main: COMMIT, v1: COMMIT }, files: single });
  hub.repos.set("test-org/tiny-sharded", { commit: COMMIT.replace(/0/g, "f"), refs: { main: COMMIT.replace(/0/g, "f") }, files: sharded });
  await hub.start();
});
afterAll(() => hub.stop());
afterEach(() => {
  hub.seen.length = 0;
  hub.gone.clear();
  hub.cuts.clear();
});

/** A fresh, empty cache for one test. */
function config(overrides: Partial<HubConfig> = {}): HubConfig {
  const home = mkdtempSync(join(work, "home-"));
  return { cacheDir: join(home, "hub"), endpoint: hub.hubUrl, offline: false, token: TOKEN, tokenFile: join(home, "token"), ...overrides };
}
const fast = { download: { retryDelayMs: 5 } };

describe("MODEL_PATH and the Hugging Face variables (settings.ts)", () => {
  test("a name is a hub repo with an optional @revision; an existing folder always wins; HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE, HF_TOKEN", () => {
    const home = join(work, "hf-home");
    const s = readSettings({ MODEL_PATH: "Qwen/Qwen3-0.6B", HF_HOME: home });
    expect(s.model).toEqual({ kind: "hub", repoId: "Qwen/Qwen3-0.6B", revision: "main" });
    expect(s.hub).toEqual({ cacheDir: join(home, "hub"), endpoint: "https://huggingface.co", offline: false, token: null, tokenFile: join(home, "token") });
    expect(readSettings({ MODEL_PATH: `Qwen/Qwen3-0.6B@${COMMIT}` }).model).toEqual({ kind: "hub", repoId: "Qwen/Qwen3-0.6B", revision: COMMIT });
    const other = readSettings({ MODEL_PATH: "a/b@v1.0", HF_HUB_CACHE: join(work, "c"), HF_ENDPOINT: "http://127.0.0.1:9/", HF_HUB_OFFLINE: "1", HF_TOKEN: "t" });
    expect(other.hub).toMatchObject({ cacheDir: join(work, "c"), endpoint: "http://127.0.0.1:9", offline: true, token: "t" });
    expect(other.model).toMatchObject({ revision: "v1.0" });
    expect(readSettings({ HF_HUB_OFFLINE: "0" }).hub.offline).toBe(false);
    mkdirSync(join(work, "org", "name"), { recursive: true });
    const cwd = process.cwd();
    try {
      process.chdir(work);
      expect(readSettings({ MODEL_PATH: "org/name" }).model).toEqual({ kind: "folder", dir: join(realpathSync(work), "org", "name"), isDefault: false });
    } finally {
      process.chdir(cwd);
    }
    expect(readSettings({ MODEL_PATH: "./missing/folder" }).model.kind).toBe("folder");
    // A path under a folder that exists here is a mistyped folder, not a repo: checkModelDir then says it does not exist.
    expect(readSettings({ MODEL_PATH: `${work}/nope` }).model.kind).toBe("folder");
    try {
      process.chdir(work);
      expect(readSettings({ MODEL_PATH: "org/typo" }).model).toMatchObject({ kind: "folder" });
    } finally {
      process.chdir(cwd);
    }
    expect(() => readSettings({ HF_ENDPOINT: "ftp://example" })).toThrow(/HF_ENDPOINT/);
  });
});

describe("download into the hub cache layout", () => {
  test("snapshots/<commit>/ holds relative symlinks to blobs/<etag>, refs/main the commit; the token goes to the hub and not to the CDN", async () => {
    const cfg = config();
    const model = await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, cfg, fast);
    const root = join(cfg.cacheDir, "models--test-org--tiny");
    expect(model.dir).toBe(join(root, "snapshots", COMMIT));
    expect(readFileSync(join(root, "refs", "main"), "utf8")).toBe(COMMIT);
    const weights = single.get("model.safetensors")!;
    expect(readlinkSync(join(model.dir, "model.safetensors"))).toBe(`../../blobs/${sha256(weights)}`);
    expect(readlinkSync(join(model.dir, "config.json"))).toBe(`../../blobs/${gitOid(single.get("config.json")!)}`);
    for (const file of ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "model.safetensors"]) {
      expect(lstatSync(join(model.dir, file)).isSymbolicLink()).toBe(true);
      expect(readFileSync(join(model.dir, file)).equals(single.get(file)!), file).toBe(true);
    }
    expect(readdirSync(join(root, "blobs")).filter((f) => f.endsWith(".incomplete"))).toEqual([]);
    checkModelDir(model.dir);
    expect(model.origin).toMatchObject({ repo_id: "test-org/tiny", revision: "main", commit: COMMIT, endpoint: hub.hubUrl, offline: false });
    expect(model.origin.files).toEqual(
      ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"].map((path) => ({ path, bytes: single.get(path)!.length, sha256: sha256(single.get(path)!) })),
    );
    // Both redirects were followed: the relative one on the hub, the absolute one to the CDN.
    expect(hub.seen.some((r) => r.server === "hub" && r.path.startsWith("/api/resolve-cache/models/test-org/tiny/"))).toBe(true);
    expect(hub.seen.filter((r) => r.server === "cdn").map((r) => r.path)).toEqual([`/blobs/${sha256(weights)}?signature=abc`]);
    expect(hub.seen.filter((r) => r.server === "hub").every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(hub.seen.filter((r) => r.server === "cdn").every((r) => r.authorization === undefined)).toBe(true);
  });

  test("a warm cache: one revision request and no download; a cached commit hash: no request at all", async () => {
    const cfg = config();
    const first = await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, cfg, fast);
    hub.seen.length = 0;
    const again = await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, cfg, fast);
    expect(again).toEqual(first);
    expect(hub.seen.map((r) => r.path)).toEqual(["/api/models/test-org/tiny/revision/main"]);
    hub.seen.length = 0;
    const pinned = await resolveHubModel({ repoId: "test-org/tiny", revision: COMMIT }, cfg, fast);
    expect(pinned.dir).toBe(first.dir);
    expect(pinned.origin.offline).toBe(true);
    expect(hub.seen).toEqual([]);
  });

  test("a token from the token file (`hf auth login`) when HF_TOKEN is unset; none at all without either", async () => {
    const cfg = config({ token: null });
    writeFileSync(cfg.tokenFile, "hf_from_file\n");
    await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, cfg, { ...fast, parts: "tokenizer" });
    expect(hub.seen.filter((r) => r.server === "hub").map((r) => r.authorization)).toEqual(expect.arrayContaining(["Bearer hf_from_file"]));
    expect(new Set(hub.seen.filter((r) => r.server === "hub").map((r) => r.authorization))).toEqual(new Set(["Bearer hf_from_file"]));
    hub.seen.length = 0;
    await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, config({ token: null }), { ...fast, parts: "tokenizer" });
    expect(hub.seen.every((r) => r.authorization === undefined)).toBe(true);
  });

  test("sharded safetensors: the index and both shards, and the folder passes the harness's model check", async () => {
    const cfg = config();
    const model = await resolveHubModel({ repoId: "test-org/tiny-sharded", revision: "main" }, cfg, fast);
    const shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
    for (const file of ["model.safetensors.index.json", ...shards]) expect(readFileSync(join(model.dir, file)).equals(sharded.get(file)!), file).toBe(true);
    expect(existsSync(join(model.dir, "model.safetensors"))).toBe(false);
    expect(model.origin.files.map((f) => f.path)).toEqual(["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json"]);
    expect(hub.seen.filter((r) => r.server === "cdn")).toHaveLength(2);
    checkModelDir(model.dir);
  });

  test("ensureBenchModel: MODEL_PATH=org/name gives a checked snapshot whose results record names the repo, commit and file hashes", async () => {
    const home = mkdtempSync(join(work, "home-"));
    const settings = readSettings({ MODEL_PATH: "test-org/tiny@v1", HF_HOME: home, HF_ENDPOINT: hub.hubUrl, HF_TOKEN: TOKEN });
    const model = await ensureBenchModel(settings);
    const info = ModelInfo.parse(model.info("bf16"));
    expect(info.name).toBe("test-org/tiny");
    expect(info.path).toBe(join(home, "hub", "models--test-org--tiny", "snapshots", COMMIT));
    expect(info.hub).toMatchObject({ repo_id: "test-org/tiny", revision: "v1", commit: COMMIT });
    expect(info.hub!.files.find((f) => f.path === "model.safetensors")!.sha256).toBe(sha256(single.get("model.safetensors")!));
    expect(readFileSync(join(home, "hub", "models--test-org--tiny", "refs", "v1"), "utf8")).toBe(COMMIT);
  });
});

test("a synthetic model pushed with its manifest.json stays labelled synthetic", async () => {
  const manifest = readFileSync(join(work, "model", "manifest.json"));
  hub.repos.set("test-org/synthetic", { commit: COMMIT, refs: { main: COMMIT }, files: new Map([...single, ["manifest.json", manifest]]) });
  const settings = readSettings({ MODEL_PATH: "test-org/synthetic", HF_HOME: mkdtempSync(join(work, "home-")), HF_ENDPOINT: hub.hubUrl });
  const info = (await ensureBenchModel(settings)).info("bf16");
  expect(info).toMatchObject({ synthetic: true, synth_seed: 0, name: "test-org/synthetic" });
  expect(info.hub!.files.map((f) => f.path)).toContain("manifest.json");
});

describe("failures say what is missing, and leave no half file in snapshots/", () => {
  test("an unknown repo, an unknown revision: the repo and the hub's error code", async () => {
    await expect(resolveHubModel({ repoId: "test-org/nope", revision: "main" }, config(), fast)).rejects.toThrow(/test-org\/nope@main: no such model repo.*HTTP 401, RepoNotFound/);
    await expect(resolveHubModel({ repoId: "test-org/tiny", revision: "v9" }, config(), fast)).rejects.toThrow(/test-org\/tiny@v9: no such revision.*HTTP 404, RevisionNotFound/);
  });

  test("a 404 on a file the index names: the repo, the commit and the file; the other files stay cached", async () => {
    const cfg = config();
    hub.gone.add("model-00002-of-00002.safetensors");
    const error = await resolveHubModel({ repoId: "test-org/tiny-sharded", revision: "main" }, cfg, fast).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/test-org\/tiny-sharded@f1234[0-9a-f]{35}: model-00002-of-00002\.safetensors: not found in the repo at this revision \(HTTP 404, EntryNotFound/);
    const snapshot = join(cfg.cacheDir, "models--test-org--tiny-sharded", "snapshots", COMMIT.replace(/0/g, "f"));
    expect(existsSync(join(snapshot, "model-00002-of-00002.safetensors"))).toBe(false);
    expect(existsSync(join(snapshot, "model-00001-of-00002.safetensors"))).toBe(true);
  });

  test("a repo without a file the harness needs: its name and the repo's files", async () => {
    hub.repos.set("test-org/no-tokenizer", { commit: COMMIT, refs: { main: COMMIT }, files: new Map([...single].filter(([f]) => f !== "tokenizer.json")) });
    await expect(resolveHubModel({ repoId: "test-org/no-tokenizer", revision: "main" }, config(), fast)).rejects.toThrow(/test-org\/no-tokenizer@main .*the repo has no tokenizer\.json \(its files: /);
    hub.repos.set("test-org/gguf-only", { commit: COMMIT, refs: { main: COMMIT }, files: new Map([...single].filter(([f]) => f !== "model.safetensors")) });
    await expect(resolveHubModel({ repoId: "test-org/gguf-only", revision: "main" }, config(), fast)).rejects.toThrow(/has neither model\.safetensors nor model\.safetensors\.index\.json/);
  });

  test("a connection cut mid-body: the next try asks for the rest with Range and the file is whole", async () => {
    const cfg = config();
    const weights = single.get("model.safetensors")!;
    const at = Math.floor(weights.length / 3);
    hub.cuts.set(sha256(weights), { at, times: 1 });
    const model = await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, cfg, fast);
    const cdn = hub.seen.filter((r) => r.server === "cdn");
    expect(cdn.map((r) => r.range)).toEqual([undefined, `bytes=${at}-`]);
    expect(readFileSync(join(model.dir, "model.safetensors")).equals(weights)).toBe(true);
  });

  test("a download that keeps failing: a clear error, nothing in snapshots/ or blobs/, the .incomplete file resumed with Range by the next run", async () => {
    const cfg = config();
    const weights = single.get("model.safetensors")!;
    const at = Math.floor(weights.length / 2);
    hub.cuts.set(sha256(weights), { at, times: 100 });
    const what = { repoId: "test-org/tiny", revision: "main" };
    const error = (await resolveHubModel(what, cfg, { download: { retries: 2, retryDelayMs: 5 } }).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(new RegExp(`test-org/tiny@${COMMIT.slice(0, 12)}: model\\.safetensors: download failed, 3 tries in a row brought no new byte; ${at} of ${weights.length} bytes kept in .*\\.incomplete`));
    const root = join(cfg.cacheDir, "models--test-org--tiny");
    expect(existsSync(join(root, "snapshots", COMMIT, "model.safetensors"))).toBe(false);
    expect(existsSync(join(root, "blobs", sha256(weights)))).toBe(false);
    const partial = join(root, "blobs", `${sha256(weights)}.incomplete`);
    expect(statSync(partial).size).toBe(at);
    expect(locateCachedHubModel(what, cfg).missing).toEqual(["model.safetensors"]);

    hub.cuts.clear();
    hub.seen.length = 0;
    const model = await resolveHubModel(what, cfg, fast);
    expect(hub.seen.filter((r) => r.server === "cdn").map((r) => r.range)).toEqual([`bytes=${at}-`]);
    expect(readFileSync(join(model.dir, "model.safetensors")).equals(weights)).toBe(true);
    expect(existsSync(partial)).toBe(false);
  });

  test("a resumed download whose bytes do not match the hub's sha256 is removed, never linked", async () => {
    const cfg = config();
    const weights = single.get("model.safetensors")!;
    const blobs = join(cfg.cacheDir, "models--test-org--tiny", "blobs");
    mkdirSync(blobs, { recursive: true });
    // A stale partial file with wrong bytes (another file's start): the resume completes it, the check refuses it.
    writeFileSync(join(blobs, `${sha256(weights)}.incomplete`), Buffer.alloc(1000, 7));
    await expect(resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, cfg, fast)).rejects.toThrow(/model\.safetensors: content sha256 [0-9a-f]{64} differs from the hub's [0-9a-f]{64}: the download was removed/);
    expect(readdirSync(blobs).filter((f) => f.startsWith(sha256(weights)))).toEqual([]);
    expect(existsSync(join(cfg.cacheDir, "models--test-org--tiny", "snapshots", COMMIT, "model.safetensors"))).toBe(false);
  });
});

describe("HF_HUB_OFFLINE and an unreachable hub: the cache only", () => {
  test("a warm cache: the snapshot, and the server saw no request", async () => {
    const cfg = config();
    const online = await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, cfg, fast);
    hub.seen.length = 0;
    const offline = await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, { ...cfg, offline: true }, fast);
    expect(offline.dir).toBe(online.dir);
    expect(offline.origin).toEqual({ ...online.origin, offline: true });
    expect(hub.seen).toEqual([]);
  });

  test("a cold cache: an error naming the repo, the revision and the cache, and no request", async () => {
    const cfg = { ...config(), offline: true };
    await expect(resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, cfg, fast)).rejects.toThrow(
      new RegExp(`HF_HUB_OFFLINE is set: test-org/tiny@main is not in the hub cache: ${cfg.cacheDir}/models--test-org--tiny/refs/main does not exist`),
    );
    expect(hub.seen).toEqual([]);
  });

  test("a cache missing a weights file: the error lists it", async () => {
    const cfg = config();
    await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, cfg, { ...fast, parts: "tokenizer" });
    await expect(resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, { ...cfg, offline: true }, fast)).rejects.toThrow(/HF_HUB_OFFLINE is set: the cached snapshot .* of test-org\/tiny@main lacks config\.json, model\.safetensors/);
  });

  test("a hub that cannot be reached: the cached snapshot when complete, else the network error and what is missing", async () => {
    const cfg = config();
    await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, cfg, fast);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadEndpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const fallback = await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, { ...cfg, endpoint: deadEndpoint }, fast);
    expect(fallback.origin).toMatchObject({ commit: COMMIT, offline: true });
    await expect(resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, { ...config(), endpoint: deadEndpoint }, fast)).rejects.toThrow(
      /the hub at http:\/\/127\.0\.0\.1:\d+ cannot be reached \(test-org\/tiny@main: cannot reach .*ECONNREFUSED.*\): test-org\/tiny@main is not in the hub cache/,
    );
  });
});

test("the harness's files only, for `qwen3-bench tokenize`: no weights downloaded", async () => {
  const cfg = config();
  const model = await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, cfg, { ...fast, parts: "tokenizer" });
  expect(readdirSync(model.dir).sort()).toEqual(["tokenizer.json", "tokenizer_config.json"]);
  expect(hub.seen.filter((r) => r.server === "cdn")).toEqual([]);
  expect(basename(model.dir)).toBe(COMMIT);
});

test("the report's provenance names the repo, revision, commit and file hashes; compare names a changed commit", async () => {
  const model = await resolveHubModel({ repoId: "test-org/tiny", revision: "main" }, config(), fast);
  const a = parseJsonFile(join(FIXTURES_DIR, "results-sample", "compare-quick-baseline", "torch_results.json"), ResultsFile);
  a.model = { ...a.model, name: "test-org/tiny", hub: model.origin };
  const facts = Object.fromEntries(provenanceFacts(buildModel(["x"], [{ file: "t", label: "torch", results: ResultsFile.parse(a) }], null)));
  expect(facts["Model source"]).toBe(`test-org/tiny@main = commit ${COMMIT} from ${hub.hubUrl}`);
  expect(facts["Model files (sha256)"]).toBe(model.origin.files.map((f) => `${f.path} ${f.sha256.slice(0, 12)}`).join("; "));
  const b = structuredClone(a);
  b.model.hub = { ...model.origin, commit: "f".repeat(40) };
  expect(provenanceDifferences(a, b)).toEqual([`model commit: "${COMMIT}" vs "${"f".repeat(40)}"`]);
});
