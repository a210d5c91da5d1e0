// Every question the harness asks NVIDIA's driver goes through here: one query (`nvidia-smi` once,
// its CSV rows) and one follow loop (`nvidia-smi -lms`, a line per reading). Without nvidia-smi
// (no NVIDIA GPU, no driver) a query answers null and a follow gives no lines.
import { followLines, tryOutput, tryOutputSync, type Follow } from "./command.ts";

const NVIDIA_SMI = "nvidia-smi";

/** What a query asks for: properties of the GPUs, or the processes using them (pid, used memory...). */
export type NvidiaQuery = { gpu: string[]; gpuIndex?: number } | { computeApps: string[] };

const queryArgs = (query: NvidiaQuery, units: boolean): string[] => [
  "gpu" in query ? `--query-gpu=${query.gpu.join(",")}` : `--query-compute-apps=${query.computeApps.join(",")}`,
  units ? "--format=csv" : "--format=csv,noheader,nounits",
  ...("gpu" in query && query.gpuIndex !== undefined ? ["-i", String(query.gpuIndex)] : []),
];

const rows = (csv: string): string[][] => csv.split("\n").filter((line) => line.trim() !== "").map((line) => line.split(",").map((cell) => cell.trim()));

/** One answer of nvidia-smi: a row of cells per GPU (or process), no header, no units; null without nvidia-smi or when the query fails. */
export async function nvidiaQuery(query: NvidiaQuery): Promise<string[][] | null> {
  const csv = await tryOutput(NVIDIA_SMI, queryArgs(query, false), undefined, { timeoutMs: 10_000 });
  return csv === null ? null : rows(csv);
}

/** nvidiaQuery for a caller that must stay synchronous (provenance). */
export function nvidiaQuerySync(query: NvidiaQuery): string[][] | null {
  const csv = tryOutputSync(NVIDIA_SMI, queryArgs(query, false));
  return csv === null ? null : rows(csv);
}

/** The GPUs `nvidia-smi -L` lists ("GPU 0: NVIDIA H100 ... (UUID: ...)"); empty without nvidia-smi. */
export async function listNvidiaGpus(): Promise<string[]> {
  return ((await tryOutput(NVIDIA_SMI, ["-L"], undefined, { timeoutMs: 10_000 })) ?? "").split("\n").filter((line) => line.startsWith("GPU"));
}

/**
 * Repeats a query every `intervalMs` in one nvidia-smi process (-lms), calling onLine with each
 * reading: the cells without units, or, with `csv`, nvidia-smi's CSV with a header and units (for a
 * log a person reads). Line-buffered through stdbuf where it exists: nvidia-smi's stdout is a pipe
 * here, and without it readings could arrive in 4 KiB bursts, long after the moments they describe.
 */
export async function followNvidia(query: NvidiaQuery, intervalMs: number, onLine: (line: string) => void, options: { csv?: boolean } = {}): Promise<Follow> {
  const loop = [NVIDIA_SMI, ...queryArgs(query, options.csv ?? false), "-lms", String(intervalMs)];
  return followLines((await lineBuffering()) ? ["stdbuf", "-oL", ...loop] : loop, onLine);
}

let stdbuf: Promise<boolean> | null = null;
const lineBuffering = (): Promise<boolean> => (stdbuf ??= tryOutput("stdbuf", ["--version"]).then((out) => out !== null));
