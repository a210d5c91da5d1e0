import { closeSync, existsSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { z } from "zod";
import { etagMismatch, sha256OfFile } from "./hub-digest.ts";

/**
 * The Hugging Face Hub's HTTP protocol, as huggingface_hub speaks it (hf_api.model_info,
 * file_download.get_hf_file_metadata and http_get): the revision API for the commit and file list,
 * HEAD on /resolve/ for a file's ETag, commit and size (following redirects on the hub's own origin,
 * stopping at one to another origin, a CDN, whose URL is then downloaded without the token), and a
 * GET that resumes with Range after a broken connection.
 */

/** A request that failed: the hub's answer or the network's; `message` names the URL's repo and file. */
export class HubError extends Error {
  /** HTTP status, or null for a network failure (refused, reset, timed out). */
  readonly status: number | null;
  /** The hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo), when it sent one. */
  readonly code: string | null;
  constructor(message: string, status: number | null, code: string | null) {
    super(message);
    this.name = "HubError";
    this.status = status;
    this.code = code;
  }
}

/** GET /api/models/{repo}/revision/{rev}: the fields read here. */
const RevisionInfo = z.looseObject({
  sha: z.string().regex(/^[0-9a-f]{40}$/),
  siblings: z.array(z.looseObject({ rfilename: z.string() })),
});

/** What HEAD /resolve/ says about one file. */
export interface FileMetadata {
  /** X-Repo-Commit. */
  commit: string;
  /** X-Linked-Etag, else ETag, quotes and W/ stripped: the blob's name in the cache. */
  etag: string;
  /** Where to GET the bytes: the last hub URL, or the CDN URL the hub redirected to. */
  location: string;
  /** X-Linked-Size, else Content-Length of a non-redirect answer; null when neither is sent. */
  size: number | null;
  /** False when location is on another origin (the token must not go there). */
  sameOrigin: boolean;
}

export interface DownloadOptions {
  /** Tries in a row without a new byte before giving up (huggingface_hub's http_get: 5). */
  retries?: number;
  /** Pause before each retry, ms (default 1000, as huggingface_hub). */
  retryDelayMs?: number;
  log?: (line: string) => void;
}

const METADATA_TIMEOUT_MS = 10_000;
const PROGRESS_MIN_BYTES = 50e6;
const MAX_REDIRECTS = 10;

/** huggingface_hub's _normalize_etag: `W/"abc"` and `"abc"` to `abc`. */
export const normalizeEtag = (etag: string): string => etag.replace(/^W\//, "").replace(/^"|"$/g, "");

/** The hub's URL of one file at one revision ({endpoint}/{repo}/resolve/{rev}/{file}). */
export const resolveUrl = (endpoint: string, repoId: string, revision: string, file: string): string =>
  `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file.split("/").map(encodeURIComponent).join("/")}`;

/** The message of a thrown fetch error, with its cause (undici puts ECONNREFUSED and friends there). */
function networkCause(e: unknown): string {
  const error = e as Error & { cause?: { code?: string; message?: string } };
  const cause = error.cause?.code ?? error.cause?.message;
  return cause ? `${error.message} (${cause})` : error.message;
}

export class HubClient {
  private readonly endpoint: string;
  private readonly headers: Record<string, string>;

  constructor(endpoint: string, token: string | null) {
    this.endpoint = endpoint;
    this.headers = token ? { authorization: `Bearer ${token}` } : {};
  }

  /** The commit a revision points at and the repo's file names. */
  async revision(repoId: string, revision: string): Promise<{ commit: string; files: string[] }> {
    const url = `${this.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}`;
    const response = await this.request(url, { headers: this.headers, signal: AbortSignal.timeout(METADATA_TIMEOUT_MS) }, `${repoId}@${revision}`);
    let body: unknown;
    try {
      body = await response.json();
    } catch (e) {
      throw new HubError(`${url}: the answer is not JSON (${(e as Error).message}): is HF_ENDPOINT a Hugging Face Hub?`, response.status, null);
    }
    const parsed = RevisionInfo.safeParse(body);
    if (!parsed.success) throw new HubError(`${url}: the answer has no commit sha and siblings list: is HF_ENDPOINT a Hugging Face Hub?`, response.status, null);
    return { commit: parsed.data.sha, files: parsed.data.siblings.map((s) => s.rfilename) };
  }

  /** HEAD /resolve/: follows redirects on the hub's origin; a redirect elsewhere (the CDN) ends the walk and carries the metadata. */
  async metadata(repoId: string, revision: string, file: string): Promise<FileMetadata> {
    const what = `${repoId}@${revision}: ${file}`;
    const first = resolveUrl(this.endpoint, repoId, revision, file);
    let url = first;
    for (let hop = 0; hop < MAX_REDIRECTS; hop++) {
      const response = await this.request(
        url,
        { method: "HEAD", redirect: "manual", headers: { ...this.headers, "accept-encoding": "identity" }, signal: AbortSignal.timeout(METADATA_TIMEOUT_MS) },
        what,
      );
      const location = response.headers.get("location");
      const isRedirect = response.status >= 300 && response.status < 400 && location !== null;
      const target = isRedirect ? new URL(location, url).href : url;
      const sameOrigin = new URL(target).origin === new URL(first).origin;
      if (isRedirect && sameOrigin) {
        url = target;
        continue;
      }
      const commit = response.headers.get("x-repo-commit");
      if (!commit) throw new HubError(`${what}: ${url} answered without X-Repo-Commit: is HF_ENDPOINT (${this.endpoint}) a Hugging Face Hub?`, response.status, null);
      const etag = response.headers.get("x-linked-etag") ?? response.headers.get("etag");
      if (!etag) throw new HubError(`${what}: ${url} answered without an ETag, so the file cannot be cached reliably`, response.status, null);
      const size = response.headers.get("x-linked-size") ?? (isRedirect ? null : response.headers.get("content-length"));
      return { commit, etag: normalizeEtag(etag), location: target, size: size === null ? null : Number(size), sameOrigin };
    }
    throw new HubError(`${what}: more than ${MAX_REDIRECTS} redirects from ${first}`, null, null);
  }

  /**
   * Downloads `meta.location` into `partial`, appending to what an earlier try left there (Range),
   * retrying after a broken connection while each try brings new bytes (huggingface_hub's http_get:
   * five tries without progress), then checks the size and the content against the ETag and renames
   * the file to `dest`. On failure `partial` stays for the next run to resume; a file whose content
   * does not match is removed. Returns the content's sha256.
   */
  async download(meta: FileMetadata, partial: string, dest: string, what: string, opts: DownloadOptions = {}): Promise<string> {
    const retries = opts.retries ?? 5;
    const sizeNow = () => (existsSync(partial) ? statSync(partial).size : 0);
    let triesLeft = retries;
    for (;;) {
      let have = sizeNow();
      if (meta.size !== null && have > meta.size) {
        rmSync(partial);
        have = 0;
      }
      if (meta.size !== null && have === meta.size) break;
      let failure: string;
      try {
        await this.fetchInto(meta, partial, have, what, opts.log);
        if (meta.size === null || sizeNow() >= meta.size) break;
        failure = `the body ended after ${sizeNow()} of ${meta.size} bytes`;
      } catch (e) {
        if (!(e instanceof HubError) || e.status !== null) throw e;
        failure = e.message;
      }
      const now = sizeNow();
      if (now > have) triesLeft = retries;
      else if (triesLeft-- === 0) {
        throw new HubError(`${what}: download failed, ${retries + 1} tries in a row brought no new byte; ${now} of ${meta.size ?? "?"} bytes kept in ${partial}, which the next run resumes (${failure})`, null, null);
      }
      opts.log?.(`hub: ${what}: ${failure}; resuming at byte ${now}`);
      await new Promise((r) => setTimeout(r, opts.retryDelayMs ?? 1000));
    }
    const size = sizeNow();
    if (meta.size !== null && size !== meta.size) {
      rmSync(partial);
      throw new HubError(`${what}: downloaded ${size} bytes where the hub announced ${meta.size}: removed, run again`, null, null);
    }
    const sha256 = sha256OfFile(partial);
    const mismatch = etagMismatch(meta.etag, partial, sha256);
    if (mismatch) {
      rmSync(partial);
      throw new HubError(`${what}: ${mismatch}: the download was removed, run again`, null, null);
    }
    renameSync(partial, dest);
    return sha256;
  }

  /** One GET from byte `from` to the end, into `partial` (appended after a 206; rewritten after a 200, the Range ignored). */
  private async fetchInto(meta: FileMetadata, partial: string, from: number, what: string, log?: (line: string) => void): Promise<void> {
    const headers: Record<string, string> = { ...(meta.sameOrigin ? this.headers : {}), "accept-encoding": "identity" };
    if (from > 0) headers.range = `bytes=${from}-`;
    const response = await this.request(meta.location, { headers }, what);
    const fd = openSync(partial, from > 0 && response.status === 206 ? "a" : "w");
    let written = 0;
    try {
      if (!response.body) return;
      // A line at each tenth of a large file, so a long download shows it is moving.
      const step = meta.size !== null && meta.size >= PROGRESS_MIN_BYTES ? meta.size / 10 : Infinity;
      let next = Math.floor(from / step + 1) * step;
      for await (const chunk of response.body) {
        writeSync(fd, chunk);
        written += chunk.byteLength;
        if (from + written >= next && from + written < meta.size!) {
          log?.(`hub: ${what}: ${Math.round(((from + written) / meta.size!) * 100)} %`);
          next += step;
        }
      }
    } catch (e) {
      throw new HubError(`connection lost after ${written} bytes of this try (${networkCause(e)})`, null, null);
    } finally {
      closeSync(fd);
    }
  }

  /** fetch, with HTTP errors turned into HubErrors that say what the hub meant. */
  private async request(url: string, init: RequestInit, what: string): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (e) {
      throw new HubError(`${what}: cannot reach ${url}: ${networkCause(e)}`, null, null);
    }
    if (response.ok || (response.status >= 300 && response.status < 400)) return response;
    const code = response.headers.get("x-error-code");
    const hubMessage = response.headers.get("x-error-message");
    await response.body?.cancel();
    throw new HubError(`${what}: ${explain(response.status, code)} (HTTP ${response.status}${code ? `, ${code}` : ""}${hubMessage ? `: ${hubMessage}` : ""}; ${url})`, response.status, code);
  }
}

/** The hub's error codes in words (huggingface_hub's hf_raise_for_status). */
function explain(status: number, code: string | null): string {
  if (code === "RepoNotFound" || (status === 401 && !code)) return "no such model repo, or it is private and no valid token was sent (HF_TOKEN, or `hf auth login`)";
  if (code === "RevisionNotFound") return "no such revision (branch, tag or commit) in the repo";
  if (code === "EntryNotFound" || status === 404) return "not found in the repo at this revision";
  if (code === "GatedRepo" || status === 403) return "the repo is gated or the token lacks access: accept its terms on the hub and set HF_TOKEN";
  if (status === 429) return "rate-limited by the hub: wait and run again";
  return "the hub refused the request";
}
