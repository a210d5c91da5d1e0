import { BOOTSTRAP_DEFAULTS } from "../stats/bootstrap.ts";

/** Number formatting shared by the text artefacts: precision that suits the magnitude, no false digits. */
export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  const magnitude = Math.abs(x);
  if (magnitude >= 100) return x.toFixed(0);
  if (magnitude >= 10) return x.toFixed(1);
  if (magnitude >= 1) return x.toFixed(2);
  if (magnitude === 0) return "0";
  return x.toPrecision(2);
}

/** A share (0..1) as a percentage with one decimal. */
export const formatPercent = (share: number | null | undefined): string =>
  share === null || share === undefined || Number.isNaN(share) ? "–" : `${(share * 100).toFixed(1)} %`;

/** A share (0..1) that is a setting, as a percentage without trailing zeros: "95 %", "2 %", "2.5 %". */
export const formatSetting = (share: number): string => `${Math.round(share * 1000) / 10} %`;

/** The confidence of the report's intervals (the bootstrap's default), as "95 %". */
export const CONFIDENCE = formatSetting(BOOTSTRAP_DEFAULTS.confidence);

/** The bootstrap's resamples, as "10,000". */
export const RESAMPLES = BOOTSTRAP_DEFAULTS.resamples.toLocaleString("en-US");

/** A ratio such as 1.23×. */
export const formatRatio = (ratio: number): string => `${ratio.toFixed(3)}×`;

/** Bytes as GB/s or TB/s (decimal units, as vendors quote bandwidth). */
export function formatBandwidth(bytesPerS: number): string {
  return bytesPerS >= 1e12 ? `${(bytesPerS / 1e12).toFixed(2)} TB/s` : `${(bytesPerS / 1e9).toFixed(0)} GB/s`;
}

/** true/false/null as on/off/n/a. */
export const formatSwitch = (value: boolean | null): string => (value === null ? "n/a" : value ? "on" : "off");
