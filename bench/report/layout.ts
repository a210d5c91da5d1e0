import type { ChartImage } from "./charts/index.ts";
import { DEFAULT_GATE } from "./comparison.ts";
import { code, type Block, type ReportDocument, type Section } from "./document.ts";
import { CONFIDENCE, formatSetting } from "./format.ts";
import { summariesFor, type ResultsModel } from "./summary.ts";
import { abTable, frameworksTable, METHOD_NOTES, promptTable, ratioTable, setupFacts } from "./tables.ts";
import { provenanceFacts } from "./provenance.ts";
import { depthTable } from "./depth.ts";
import { hasDepthCases } from "./depth-rows.ts";
import { modelInGroup, precisionGroups } from "./precision.ts";
import type { ReportWarning } from "./warnings.ts";

/** Options shared by the report artefacts. */
export interface ReportOptions {
  /** Label of the ratio table's baseline; default the run's fastest label (cases.ts, `fastestLabel`). */
  baseline?: string;
}

/** What the document is built from: the results, and what was derived from them for every format. */
export interface ReportInputs {
  model: ResultsModel;
  warnings: ReportWarning[];
  charts: ChartImage[];
  /** verify.txt's content. */
  verify: string;
  options: ReportOptions;
}

/** The file beside the report that holds the token-agreement text. */
export const VERIFY_FILE = "verify.txt";

/** Banners above the first section: what changes how every number reads. */
function banners({ model }: ReportInputs): Block[] {
  if (!model.files.some((f) => f.results.model.synthetic)) return [];
  return [
    {
      kind: "banner",
      title: "Synthetic weights.",
      text: ["The model's weights are seeded random numbers (", code("qwen3-bench synth"), "): speeds are those of the real architecture, the generated text is meaningless."],
    },
  ];
}

const section = (title: Section["title"], blocks: Block[], subsections: Section[] = []): Section => ({ title, blocks, subsections });

function setup({ model }: ReportInputs): Section {
  return section(["Setup"], [{ kind: "facts", facts: setupFacts(model) }, { kind: "table", table: frameworksTable(model) }]);
}

/** What produced the results (harness commit, runner builds, lockfiles, command, knobs); absent for files older than provenance. */
function provenance({ model }: ReportInputs): Section | null {
  if (!model.files.some((f) => f.results.provenance || f.results.ready.build)) return null;
  return section(["Provenance"], [{ kind: "facts", facts: provenanceFacts(model) }]);
}

function decodeSpeed({ model }: ReportInputs): Section {
  // Several precisions (BENCH_DTYPE=f16,bf16, quantized labels): one table per precision under each prompt.
  const groups = precisionGroups(model);
  const tables = (promptId: string): Block[] =>
    groups.length < 2
      ? [{ kind: "table", table: promptTable(model, promptId) }]
      : groups.flatMap((group): Block[] => {
          const part = modelInGroup(model, group);
          return summariesFor(part, promptId).length ? [{ kind: "paragraph", text: ["Precision: ", code(group)] }, { kind: "table", table: promptTable(part, promptId) }] : [];
        });
  const prompts = model.promptIds.map((promptId) => {
    const first = summariesFor(model, promptId)[0];
    return section(["Prompt ", code(promptId), ` (${first.promptTokens} prompt tokens, ${first.tokensGenerated} new tokens)`], tables(promptId));
  });
  return section(["Decode speed per prompt"], [], prompts);
}

function decodeAtDepth({ model }: ReportInputs): Section | null {
  if (!hasDepthCases(model)) return null;
  const text = [
    "BENCH_DEPTHS: the base prompt extended with real text to each depth (docs/precision-and-depth.md), prefilled, then the timed decode. ",
    "\"vs shallowest\" is the share of the framework's decode speed at its smallest measured depth; memory is the harness's peak for the runner's processes during the depth's timed runs. ",
    "A depth a runner could not hold says why.",
  ];
  return section(["Decode at depth"], [{ kind: "paragraph", text }, { kind: "table", table: depthTable(model) }]);
}

function ratios({ model, options }: ReportInputs): Section | null {
  const ratio = ratioTable(model, options.baseline);
  if (!ratio) return null;
  return section(
    [`Relative to ${ratio.baseline}`],
    [
      { kind: "paragraph", text: [`Decode speed relative to ${ratio.baseline} (above 1 = faster), from the median decode-step latency, with its ${CONFIDENCE} interval and verdict against a ±${formatSetting(DEFAULT_GATE.band)} noise band (see Method).`] },
      { kind: "table", table: ratio.table },
    ],
  );
}

function abPairs({ model }: ReportInputs): Section | null {
  const table = abTable(model);
  if (!table) return null;
  return section(
    ["A/B pairs"],
    [
      {
        kind: "paragraph",
        text: [
          "Labels of one framework in one run (a build ",
          code("@name"),
          " or runner flags ",
          code("[flag=value]"),
          `), the candidate against its baseline. Timed run i of each forms pair i (sent back to back when interleaved, so a shift of the host's speed falls on both); the speed ratio is the median over pairs of the pair's ratio of median step latency, with a ${CONFIDENCE} percentile-bootstrap interval over the pairs. `,
          code("npx qwen3-bench ab DIR"),
          " gates on it.",
        ],
      },
      { kind: "table", table },
    ],
  );
}

function charts({ charts }: ReportInputs): Section | null {
  return charts.length ? section(["Charts"], [{ kind: "charts", charts }]) : null;
}

function warnings({ warnings }: ReportInputs): Section {
  return section(["Warnings"], [warnings.length ? { kind: "warnings", warnings } : { kind: "paragraph", text: ["None."] }]);
}

function tokenAgreement({ verify }: ReportInputs): Section {
  return section(["Token agreement"], [{ kind: "attachment", file: VERIFY_FILE, text: verify }]);
}

function method(): Section {
  return section(["Method"], [{ kind: "list", items: METHOD_NOTES.map((note) => [note]) }]);
}

/**
 * The report's outline, written once for every format: a section is one function here and one entry
 * in this list (null leaves it out).
 */
const SECTIONS: Array<(inputs: ReportInputs) => Section | null> = [setup, provenance, decodeSpeed, decodeAtDepth, ratios, abPairs, charts, warnings, tokenAgreement, method];

/** The report document of a results model. */
export function reportDocument(inputs: ReportInputs): ReportDocument {
  const sources: Block = { kind: "paragraph", text: ["Results: ", ...inputs.model.sources.flatMap((s, i) => (i ? [", ", code(s)] : [code(s)]))] };
  return {
    title: "qwen3-bench report",
    intro: [sources, ...banners(inputs)],
    sections: SECTIONS.map((build) => build(inputs)).filter((s): s is Section => s !== null),
  };
}
