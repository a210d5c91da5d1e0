/**
 * One colour per framework, the same in every chart: colours are handed out in the model's label order
 * (sorted), from Tableau 10 (distinct for colour-vision deficiencies in its first few hues).
 */
const TABLEAU_10 = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/** A Vega-Lite colour scale mapping each label to its fixed colour. */
export function frameworkColourScale(labels: string[]): { domain: string[]; range: string[] } {
  return { domain: labels, range: labels.map((_, i) => TABLEAU_10[i % TABLEAU_10.length]) };
}
