import { checkAgreement } from "../agreement.ts";
import type { Dtype } from "../schema/model-config.ts";
import type { FidelityAgreement } from "../schema/fidelity.ts";
import type { AgreementConfig } from "../schema/prompts.ts";
import type { Variant } from "../variants.ts";
import type { FidelityTool, ToolPrompt } from "./tool.ts";

/**
 * The tokens tools returned, and the harness's agreement rule between them: each tool is checked
 * (agreement.ts, checkAgreement) against the first tool that returned tokens after the same prompt
 * ids in the same dtype and quantization; a quantized label is checked against its own kind only
 * (the harness checks it against its unquantized row with another tolerance, not here). The same
 * ids: those a tool decodes after where they are known (the harness's prompt, or 0..P−1, which are
 * the same ids when the run's prompts are given as lengths), else its own kind of prompt of that id.
 */
export class TokenReferences {
  private readonly first = new Map<string, { tokens: number[]; by: string }>();
  private readonly config: AgreementConfig;

  constructor(config: AgreementConfig) {
    this.config = config;
  }

  private static key(tool: FidelityTool, variant: Variant, dtype: Dtype, prompt: ToolPrompt): string {
    const quantized = variant.flags.filter(([name, value]) => variant.framework.flags?.[name]?.quantizes?.(value));
    const decodedAfter = tool.promptIds === "harness" ? prompt.ids : tool.promptIds === "0..P-1" ? [...prompt.ids.keys()] : `${tool.promptIds} prompt ${prompt.id}`;
    return JSON.stringify([decodedAfter, dtype, quantized]);
  }

  /** The reference tokens a tool would be checked against, by prompt id (a tool that teacher-forces them needs them first). */
  tokensFor(tool: FidelityTool, variant: Variant, dtype: Dtype, prompts: ToolPrompt[]): Map<string, number[]> {
    return new Map(prompts.flatMap((prompt) => {
      const r = this.first.get(TokenReferences.key(tool, variant, dtype, prompt));
      return r ? [[prompt.id, r.tokens] as [string, number[]]] : [];
    }));
  }

  /** Records a tool's greedy tokens; returns its agreement record, or null when it is the reference (or itself again). */
  check(args: { tool: FidelityTool; variant: Variant; dtype: Dtype; device: string; prompt: ToolPrompt; tokens: number[]; teacherForced: number[] | null }): FidelityAgreement | null {
    const key = TokenReferences.key(args.tool, args.variant, args.dtype, args.prompt);
    const who = `${args.tool.name} (${args.variant.label})`;
    const reference = this.first.get(key);
    if (!reference) {
      this.first.set(key, { tokens: args.tokens, by: who });
      return null;
    }
    if (reference.by === who) return null;
    const checked = checkAgreement({
      promptId: args.prompt.id, reference: reference.by, referenceTokens: reference.tokens, tokens: args.tokens,
      teacherForcedArgmax: args.teacherForced, dtype: args.dtype, config: this.config,
    });
    return {
      record: "agreement", tool: who, reference: reference.by, device: args.device, dtype: args.dtype, prompt_tokens: args.prompt.ids.length, tokens: reference.tokens.length,
      identical: checked.identical, first_divergence: checked.first_divergence, top1_agreement: checked.top1_agreement, passed: checked.passed,
    };
  }
}
