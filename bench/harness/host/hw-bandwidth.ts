/**
 * Peak memory bandwidth of known chips, bytes per second (vendor spec sheets; GB = 10⁹ bytes). Used only
 * to express decode speed as a share of the bandwidth ceiling: decoding one token reads every weight once,
 * so tok/s × weight bytes ≤ bandwidth. Entries are tried in order, most specific first.
 */
interface KnownChip {
  /** Matches the lower-cased device name (nvidia-smi's name, or the Apple chip name such as "apple m3 max"). */
  pattern: RegExp;
  /** Bytes per second. */
  bandwidth: number;
  /** Extra condition where one name covers several memory configurations. */
  when?: (hint: ChipHint) => boolean;
}

/** What else is known about the device, to tell apart variants that share a name. */
export interface ChipHint {
  /** Device memory, MiB. */
  memoryMb?: number | null;
  /** CPU cores (Apple chips: the binned Max parts have fewer cores and a narrower memory bus). */
  cpuCores?: number | null;
}

const GB = 1e9;

const KNOWN_CHIPS: KnownChip[] = [
  // NVIDIA data centre. nvidia-smi names: "NVIDIA H100 80GB HBM3" (SXM), "NVIDIA H100 PCIe", "NVIDIA H100 NVL".
  { pattern: /h100.*pcie/, bandwidth: 2000 * GB },
  { pattern: /h100.*nvl/, bandwidth: 3900 * GB },
  { pattern: /h100/, bandwidth: 3350 * GB },
  { pattern: /h200/, bandwidth: 4800 * GB },
  // "NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-40GB", "NVIDIA A100-PCIE-40GB".
  { pattern: /a100.*(80gb.*pcie|pcie.*80gb)/, bandwidth: 1935 * GB },
  { pattern: /a100.*80gb/, bandwidth: 2039 * GB },
  { pattern: /a100/, bandwidth: 1555 * GB },
  { pattern: /\bl40s\b/, bandwidth: 864 * GB },
  { pattern: /\bl4\b/, bandwidth: 300 * GB },
  // GeForce RTX 50 series.
  { pattern: /rtx 5090/, bandwidth: 1792 * GB },
  { pattern: /rtx 5080/, bandwidth: 960 * GB },
  { pattern: /rtx 5070 ti/, bandwidth: 896 * GB },
  { pattern: /rtx 5070/, bandwidth: 672 * GB },
  { pattern: /rtx 5060/, bandwidth: 448 * GB },
  // RTX 40 series.
  { pattern: /rtx 4090/, bandwidth: 1008 * GB },
  { pattern: /rtx 4080 super/, bandwidth: 736 * GB },
  { pattern: /rtx 4080/, bandwidth: 716.8 * GB },
  { pattern: /rtx 4070 ti super/, bandwidth: 672 * GB },
  { pattern: /rtx 4070/, bandwidth: 504 * GB },
  { pattern: /rtx 4060 ti/, bandwidth: 288 * GB },
  { pattern: /rtx 4060/, bandwidth: 272 * GB },
  // RTX 30 series.
  { pattern: /rtx 3090 ti/, bandwidth: 1008 * GB },
  { pattern: /rtx 3090/, bandwidth: 936 * GB },
  { pattern: /rtx 3080 ti/, bandwidth: 912 * GB },
  { pattern: /rtx 3080/, bandwidth: 912 * GB, when: (h) => (h.memoryMb ?? 0) > 11_000 },
  { pattern: /rtx 3080/, bandwidth: 760 * GB },
  { pattern: /rtx 3070 ti/, bandwidth: 608 * GB },
  { pattern: /rtx 3070/, bandwidth: 448 * GB },
  { pattern: /rtx 3060 ti/, bandwidth: 448 * GB },
  { pattern: /rtx 3060/, bandwidth: 360 * GB },
  // Apple silicon (unified memory: CPU and GPU share it).
  { pattern: /apple m1 ultra/, bandwidth: 800 * GB },
  { pattern: /apple m1 max/, bandwidth: 400 * GB },
  { pattern: /apple m1 pro/, bandwidth: 200 * GB },
  { pattern: /apple m1\b/, bandwidth: 68.25 * GB },
  { pattern: /apple m2 ultra/, bandwidth: 800 * GB },
  { pattern: /apple m2 max/, bandwidth: 400 * GB },
  { pattern: /apple m2 pro/, bandwidth: 200 * GB },
  { pattern: /apple m2\b/, bandwidth: 100 * GB },
  { pattern: /apple m3 ultra/, bandwidth: 819 * GB },
  { pattern: /apple m3 max/, bandwidth: 300 * GB, when: (h) => h.cpuCores === 14 },
  { pattern: /apple m3 max/, bandwidth: 400 * GB },
  { pattern: /apple m3 pro/, bandwidth: 150 * GB },
  { pattern: /apple m3\b/, bandwidth: 100 * GB },
  { pattern: /apple m4 max/, bandwidth: 410 * GB, when: (h) => h.cpuCores === 14 },
  { pattern: /apple m4 max/, bandwidth: 546 * GB },
  { pattern: /apple m4 pro/, bandwidth: 273 * GB },
  { pattern: /apple m4\b/, bandwidth: 120 * GB },
  { pattern: /apple m5\b/, bandwidth: 153 * GB },
];

/** Peak memory bandwidth of a known chip, bytes per second, or null when the name is not in the table. */
export function knownBandwidth(deviceName: string, hint: ChipHint = {}): number | null {
  const name = deviceName.toLowerCase();
  for (const chip of KNOWN_CHIPS) {
    if (chip.pattern.test(name) && (!chip.when || chip.when(hint))) return chip.bandwidth;
  }
  return null;
}
