import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { writeFileAtomically } from "../atomic-file.ts";
import { isCommitHash } from "./hub-source.ts";

/**
 * huggingface_hub's cache layout (file_download.py), so a cache filled by Python is used as it is
 * and one filled here serves Python too:
 *
 *   <cache>/models--<org>--<name>/
 *     blobs/<etag>                   file contents, named by the hub's ETag (sha256 for LFS files, git sha1 otherwise)
 *     blobs/<etag>.incomplete        a download in progress (resumed with Range)
 *     snapshots/<commit>/<file>      relative symlinks to ../../blobs/<etag>
 *     refs/<revision>                the commit hash a branch or tag pointed at
 */
export class HubRepoCache {
  /** models--org--name: one folder a repo (huggingface_hub's repo_folder_name). */
  readonly root: string;

  constructor(cacheDir: string, repoId: string) {
    this.root = join(cacheDir, ["models", ...repoId.split("/")].join("--"));
  }

  blob(etag: string): string {
    return join(this.root, "blobs", etag);
  }

  snapshotDir(commit: string): string {
    return join(this.root, "snapshots", commit);
  }

  snapshotFile(commit: string, file: string): string {
    return join(this.snapshotDir(commit), ...file.split("/"));
  }

  /** The commit a revision names from the cache alone: itself when it is a full hash, else refs/<revision>; null when unknown. */
  commitOf(revision: string): string | null {
    if (isCommitHash(revision)) return revision;
    const ref = join(this.root, "refs", revision);
    return existsSync(ref) ? readFileSync(ref, "utf8").trim() : null;
  }

  /** Records refs/<revision> = commit (atomically: temp file + rename), unless the revision is the commit itself. */
  writeRef(revision: string, commit: string): void {
    if (revision === commit || this.commitOf(revision) === commit) return;
    const ref = join(this.root, "refs", revision);
    mkdirSync(dirname(ref), { recursive: true });
    writeFileAtomically(ref, commit);
  }

  /** snapshots/<commit>/<file> -> the blob, as a relative symlink (huggingface_hub's _create_symlink). */
  linkSnapshotFile(commit: string, file: string, etag: string): void {
    const pointer = this.snapshotFile(commit, file);
    mkdirSync(dirname(pointer), { recursive: true });
    if (isPresent(pointer)) rmSync(pointer);
    symlinkSync(relative(dirname(pointer), this.blob(etag)), pointer);
  }
}

/** True when a directory entry exists at path (a dangling symlink counts, unlike existsSync). */
function isPresent(path: string): boolean {
  try {
    lstatSync(path);
  } catch {
    return false;
  }
  return true;
}
