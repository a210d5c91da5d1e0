import { readFileSync } from "node:fs";
import type { z } from "zod";

/** A config or data file that failed to load; the message names the file and the field. */
export class InputFileError extends Error {
  readonly file: string;
  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = "InputFileError";
    this.file = file;
  }
}

/** Formats zod issues as `field.path: message` lines. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.map(String).join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}

/** Validates `value` read from `file` with `schema`; throws one InputFileError naming file and field. */
export function parseWith<S extends z.ZodType>(file: string, schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new InputFileError(file, formatIssues(result.error));
  return result.data;
}

/** A file's text; a missing or unreadable file is an InputFileError naming it. */
export function readInputFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new InputFileError(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** A JSON file's value, not yet validated; missing files and bad JSON are InputFileErrors. */
export function readJsonFile(file: string): unknown {
  const text = readInputFile(file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputFileError(file, `is not valid JSON (${(e as Error).message})`);
  }
}

/** Reads a JSON file and validates it; missing files and bad JSON are InputFileErrors too. */
export function parseJsonFile<S extends z.ZodType>(file: string, schema: S): z.infer<S> {
  return parseWith(file, schema, readJsonFile(file));
}
