import { burnSelfBench } from "./burn-self-bench.ts";
import { llamaBench } from "./llama-bench.ts";
import { mlxBenchmark } from "./mlx-benchmark.ts";
import { mlxGenerateStep, mlxStreamGenerate, torchFastLoop, transformersGenerate } from "./python-tools.ts";
import type { CommandTool } from "./tool.ts";

/**
 * Each framework's own tools, by registered framework name (frameworks.ts), in the order they run:
 * a tool that returns tokens is checked against the first tool that returned tokens for the same
 * prompt ids, so transformers' generate() (torch, torch-compile) goes first.
 */
const TOOLS: Record<string, CommandTool[]> = {
  torch: [transformersGenerate("dynamic")],
  "torch-compile": [transformersGenerate("static")],
  "torch-fast": [torchFastLoop],
  "mlx-lm": [mlxGenerateStep, mlxStreamGenerate, mlxBenchmark],
  "burn-cuda": [burnSelfBench],
  "burn-wgpu": [burnSelfBench],
  "burn-cpu": [burnSelfBench],
  "burn-metal": [burnSelfBench],
  "llama-cpp": [llamaBench],
};

/** The tools of a registered framework; none for one without a tool of its own here (mlx-swift, burn-mlx). */
export const toolsFor = (framework: string): CommandTool[] => TOOLS[framework] ?? [];

/** Frameworks that have a tool, in the registry's order. */
export const FRAMEWORKS_WITH_TOOLS = Object.keys(TOOLS);
