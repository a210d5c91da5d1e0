import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { basename } from "node:path";
import type { Dtype } from "../schema/model-config.ts";

/** Safetensors dtype tags for the dtypes the suite uses, and their element sizes in bytes. */
export const SAFETENSORS_DTYPE = { f16: "F16", bf16: "BF16", f32: "F32" } as const satisfies Record<Dtype, string>;
const ELEMENT_BYTES: Record<string, number> = { F16: 2, BF16: 2, F32: 4, F64: 8, I64: 8, I32: 4, U8: 1, I8: 1, BOOL: 1 };

export interface TensorEntry {
  dtype: string;
  shape: number[];
  /** Byte range relative to the start of the data section. */
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  file: string;
  tensors: Map<string, TensorEntry>;
  /** Absolute byte offset where tensor data begins (8 + header length). */
  dataStart: number;
  fileSize: number;
}

/** A model file that cannot be used; the message names the file and the field or tensor. */
export class ModelFileError extends Error {
  readonly file: string;
  readonly field: string;
  constructor(file: string, field: string, detail: string) {
    super(`${file}: ${field}: ${detail}`);
    this.name = "ModelFileError";
    this.file = file;
    this.field = field;
  }
}

/**
 * Reads and checks a safetensors header without touching tensor data: the header must parse, every
 * tensor's byte range must match its dtype and shape, and the file must be long enough to hold it
 * (a truncated download fails here, naming the first tensor that does not fit).
 */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = openSync(file, "r");
  try {
    const fileSize = fstatSync(fd).size;
    const name = basename(file);
    if (fileSize < 8) throw new ModelFileError(name, "header", `file is ${fileSize} bytes, too short for a safetensors header`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > fileSize - 8 || headerLen > 100_000_000) {
      throw new ModelFileError(name, "header", `header length ${headerLen} exceeds the file (${fileSize} bytes): truncated or not safetensors`);
    }
    const headerBuf = Buffer.alloc(headerLen);
    readSync(fd, headerBuf, 0, headerLen, 8);
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(headerBuf.toString("utf8"));
    } catch (e) {
      throw new ModelFileError(name, "header", `is not valid JSON (${(e as Error).message})`);
    }
    const dataStart = 8 + headerLen;
    const tensors = new Map<string, TensorEntry>();
    for (const [key, value] of Object.entries(raw)) {
      if (key === "__metadata__") continue;
      const t = value as TensorEntry;
      const size = ELEMENT_BYTES[t.dtype];
      if (size === undefined) throw new ModelFileError(name, key, `unsupported dtype ${JSON.stringify(t.dtype)}`);
      const [start, end] = t.data_offsets;
      const expected = t.shape.reduce((a, b) => a * b, 1) * size;
      if (end - start !== expected) {
        throw new ModelFileError(name, key, `byte range ${start}..${end} does not hold shape [${t.shape}] of ${t.dtype}`);
      }
      if (dataStart + end > fileSize) {
        throw new ModelFileError(name, key, `data ends at byte ${dataStart + end} but the file has ${fileSize} bytes (truncated file)`);
      }
      tensors.set(key, t);
    }
    return { file, tensors, dataStart, fileSize };
  } finally {
    closeSync(fd);
  }
}

/** Builds the header bytes (length prefix included) for tensors written back to back in the given order. */
export function encodeSafetensorsHeader(
  tensors: { name: string; dtype: string; shape: number[] }[],
  metadata: Record<string, string> = {},
): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: "pt", ...metadata } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * ELEMENT_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad so tensor data starts 8-byte aligned, as the reference writer does.
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const body = Buffer.from(json, "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([prefix, body]);
}
