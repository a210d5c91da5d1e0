"""Measures what real MLX affine quantization does to greedy tokens, to set the quantized-row
agreement threshold (bench/harness/agreement.ts, QUANTIZED_MIN_TOP1): for each prompt of
fixtures/prompt_token_ids.json, the unquantized model's greedy tokens (mlx-lm runner, run dtype), then
the quantized copy's teacher-forced argmax on them (one `score` forward pass), reported as the share of
positions that agree, and the first position where the quantized copy's own greedy tokens differ.

Usage (the mlx-lm runner's venv):
    runners/mlx-lm/.venv/bin/python scripts/measure-quant-agreement.py MODEL_DIR QUANT_DIR DTYPE NEW_TOKENS [--teacher-forced-only]
QUANT_DIR is a folder made by `mlx_lm convert -q --q-bits B --q-group-size 64 --dtype D` (as the
harness's bench/harness/mlx-quant.ts makes it). Prints one JSON line per prompt and a summary line.
--teacher-forced-only skips the quantized copy's own greedy run (first_divergence null then): on a slow
CPU the 0.6B model decodes at about a token a second.
"""

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "runners" / "mlx-lm"))

from runner import MlxLmRunner  # noqa: E402


def main() -> None:
    model_dir, quant_dir, dtype, new_tokens = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    teacher_forced_only = "--teacher-forced-only" in sys.argv[5:]
    prompts = json.loads((ROOT / "fixtures" / "prompt_token_ids.json").read_text())["prompts"]
    plain = MlxLmRunner(model_dir, dtype, "cpu")
    quant = MlxLmRunner(quant_dir, dtype, "cpu")
    shares = []
    for prompt_id, entry in prompts.items():
        ids = entry["prompt_token_ids"]
        reference, _ = plain.generate(ids, new_tokens, time.perf_counter_ns())
        argmax, _ = quant.score(ids, reference, 1)
        own = reference if teacher_forced_only else quant.generate(ids, new_tokens, time.perf_counter_ns())[0]
        same = sum(a == r for a, r in zip(argmax, reference))
        divergence = next((i for i, (a, r) in enumerate(zip(own, reference)) if a != r), None)
        shares.append(same / len(reference))
        print(json.dumps({"prompt": prompt_id, "top1_agreement": same / len(reference), "agree": same, "positions": len(reference), "first_divergence": None if teacher_forced_only else divergence}), flush=True)
    print(json.dumps({"model": model_dir, "quantized": quant_dir, "dtype": dtype, "new_tokens": new_tokens, "min_top1": min(shares), "mean_top1": sum(shares) / len(shares)}), flush=True)


if __name__ == "__main__":
    main()
