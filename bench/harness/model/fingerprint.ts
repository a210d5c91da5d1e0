import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * A model folder's fingerprint, the cache key of copies made from it (MLX quantized copies, GGUFs):
 * config.json's bytes and, for every weight, index and tokenizer file, its name, size and
 * modification time (hashing 1.2 GB of weights on every launch would cost seconds; a rewritten file
 * changes its time).
 * 16 hex digits.
 */
export function modelFingerprint(modelDir: string): string {
  const hash = createHash("sha256");
  const files = readdirSync(modelDir).filter((f) => /\.(safetensors|json|txt|model)$/.test(f)).sort();
  for (const file of files) {
    const stat = statSync(join(modelDir, file));
    hash.update(`\0${file}\0${stat.size}\0${stat.mtimeMs}`);
    if (file === "config.json") hash.update(readFileSync(join(modelDir, file)));
  }
  return hash.digest("hex").slice(0, 16);
}
