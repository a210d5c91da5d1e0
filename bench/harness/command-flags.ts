/** The commands' flag values (parseArgs gives strings), each checked with one error that names its flag. */

/** `--NAME`'s value as a whole number ≥ `min`; an absent value is the same error. */
export function integerFlag(name: string, text: string | undefined, min = 1): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer ≥ ${min}, got ${JSON.stringify(text ?? null)}`);
  return n;
}
