import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** Hex digest of a file's content, read in 4 MiB pieces; `prefix` is hashed first (git's blob header). */
function digestFile(file: string, algorithm: "sha256" | "sha1", prefix: (size: number) => string = () => ""): string {
  const hash = createHash(algorithm);
  const fd = openSync(file, "r");
  try {
    hash.update(prefix(fstatSync(fd).size));
    const buffer = Buffer.allocUnsafe(1 << 22);
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

export const sha256OfFile = (file: string): string => digestFile(file, "sha256");

/** The git object id of a file's content (sha1 of "blob <size>\0" + content): the hub's ETag of a file not stored in LFS. */
export const gitBlobSha1OfFile = (file: string): string => digestFile(file, "sha1", (size) => `blob ${size}\0`);

/**
 * Why a file's content does not match the hub's ETag, or null when it does. The hub names a file
 * stored in LFS by its sha256 and any other file by its git blob sha1 (huggingface_hub's hf_hub_url
 * docs); an ETag of neither form is not checked.
 */
export function etagMismatch(etag: string, file: string, sha256: string): string | null {
  if (/^[0-9a-f]{64}$/.test(etag)) return sha256 === etag ? null : `content sha256 ${sha256} differs from the hub's ${etag}`;
  if (/^[0-9a-f]{40}$/.test(etag)) {
    const oid = gitBlobSha1OfFile(file);
    return oid === etag ? null : `content git blob sha1 ${oid} differs from the hub's ETag ${etag}`;
  }
  return null;
}
