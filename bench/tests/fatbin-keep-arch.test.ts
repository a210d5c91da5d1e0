import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "../harness/paths.ts";

// scripts/fatbin-keep-arch.py on a real ELF shared library (gcc) carrying a synthetic .nv_fatbin
// (objcopy) laid out as mlx's libmlx.so is: containers of cubin and PTX entries, one per SM arch.
const SCRIPT = join(REPO_ROOT, "scripts", "fatbin-keep-arch.py");
const missingTools = ["gcc", "objcopy"].filter((tool) => spawnSync(tool, ["--version"]).error);

const FATBIN_MAGIC = 0xba55ed50;
const KIND = { ptx: 1, elf: 2 } as const;

/** One fatbin entry as placed in the blob; offsets in bytes from the blob's start. */
interface PlacedEntry {
  kind: number;
  smArch: number;
  payloadStart: number;
  payloadSize: number;
}

function entry(kind: number, smArch: number, payload: Buffer, headerSize: number): Buffer {
  const header = Buffer.alloc(headerSize);
  header.writeUInt16LE(kind, 0);
  header.writeUInt16LE(0x0101, 2);
  header.writeUInt32LE(headerSize, 4);
  header.writeBigUInt64LE(BigInt(payload.length), 8); // padded payload size
  header.writeUInt32LE(payload.length - 3, 16); // payload size before padding
  header.writeUInt32LE(smArch, 28);
  return Buffer.concat([header, payload]);
}

/** Two containers, 8 bytes of padding between them, each with ELF and PTX entries for sm 80, 90, 120. */
function fatbinBlob(): { blob: Buffer; entries: PlacedEntry[] } {
  const parts: Buffer[] = [];
  const entries: PlacedEntry[] = [];
  let offset = 0;
  const push = (b: Buffer) => (parts.push(b), (offset += b.length));
  for (const container of [0, 1]) {
    const body: Buffer[] = [];
    let bodyLength = 0;
    const bodyStart = offset + 16;
    for (const smArch of [80, 90, 120]) {
      for (const kind of [KIND.elf, KIND.ptx]) {
        // The second container's entry headers are longer, as sm 100+ entries are in libmlx.so.
        const headerSize = container === 0 ? 64 : 112;
        const payloadSize = 200 + smArch + kind * 8;
        const payload = Buffer.alloc(payloadSize, (smArch + kind * 16 + container * 64) & 0xff || 1);
        payload.write(`sm${smArch} kind${kind} container${container}`, 0);
        entries.push({ kind, smArch, payloadStart: bodyStart + bodyLength + headerSize, payloadSize });
        const bytes = entry(kind, smArch, payload, headerSize);
        body.push(bytes);
        bodyLength += bytes.length;
      }
    }
    const header = Buffer.alloc(16);
    header.writeUInt32LE(FATBIN_MAGIC, 0);
    header.writeUInt16LE(1, 4);
    header.writeUInt16LE(16, 6);
    header.writeBigUInt64LE(BigInt(bodyLength), 8);
    push(header);
    body.forEach(push);
    push(Buffer.alloc(8 + ((8 - (offset % 8)) % 8)));
  }
  return { blob: Buffer.concat(parts), entries };
}

const keepArch = (lib: string, ...sms: number[]) =>
  execa("python3", [SCRIPT, lib, ...sms.flatMap((sm) => ["--sm", String(sm)])], { reject: false });

describe.skipIf(missingTools.length > 0)(
  missingTools.length ? `fatbin-keep-arch.py — SKIPPED: ${missingTools.join(", ")} absent` : "fatbin-keep-arch.py",
  () => {
    const work = mkdtempSync(join(tmpdir(), "qwen3-bench-fatbin-"));
    const plainLib = join(work, "libplain.so");
    const fatLib = join(work, "libfat.so");
    const { blob, entries } = fatbinBlob();
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    beforeAll(async () => {
      writeFileSync(join(work, "add.c"), "int add(int a, int b) { return a + b; }\n");
      await execa("gcc", ["-shared", "-fPIC", "-o", plainLib, join(work, "add.c")]);
      writeFileSync(join(work, "fatbin.bin"), blob);
      await execa("objcopy", [
        "--add-section", `.nv_fatbin=${join(work, "fatbin.bin")}`,
        "--set-section-flags", ".nv_fatbin=alloc,readonly",
        plainLib, fatLib,
      ]);
    });

    test("keeps the sm 90 payloads byte for byte and zeroes the others, headers and size unchanged", async () => {
      const lib = join(work, "keep90.so");
      copyFileSync(fatLib, lib);
      const before = readFileSync(lib);
      const blobAt = before.indexOf(blob);
      expect(blobAt).toBeGreaterThan(0);

      const result = await keepArch(lib, 90);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^sm 80: 4 entries \(2 ELF, 2 PTX\), 0\.0 MiB zeroed$/m);
      expect(result.stdout).toMatch(/^sm 90: 4 entries \(2 ELF, 2 PTX\), 0\.0 MiB kept$/m);
      expect(result.stdout).toMatch(/^sm 120: 4 entries \(2 ELF, 2 PTX\), 0\.0 MiB zeroed$/m);

      const after = readFileSync(lib);
      expect(after.length).toBe(before.length);
      const payload = (file: Buffer, e: PlacedEntry) => file.subarray(blobAt + e.payloadStart, blobAt + e.payloadStart + e.payloadSize);
      for (const e of entries) {
        if (e.smArch === 90) expect(payload(after, e).equals(payload(before, e))).toBe(true);
        else expect(payload(after, e).every((byte) => byte === 0)).toBe(true);
      }
      // Everything else, entry and container headers and the rest of the ELF file, as it was.
      const expected = Buffer.from(before);
      for (const e of entries.filter((e) => e.smArch !== 90)) payload(expected, e).fill(0);
      expect(after.equals(expected)).toBe(true);
    });

    test("fails on a library without .nv_fatbin", async () => {
      const result = await keepArch(plainLib, 90);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/has no \.nv_fatbin section/);
    });

    test("fails, changing nothing, when a kept arch has no entry", async () => {
      const lib = join(work, "keep75.so");
      copyFileSync(fatLib, lib);
      const result = await keepArch(lib, 90, 75);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/no fatbin entry for sm 75 \(present: 80, 90, 120\)/);
      expect(readFileSync(lib).equals(readFileSync(fatLib))).toBe(true);
    });
  },
);
