"""mlx-lm's decode loops, timed outside the protocol, for `qwen3-bench fidelity --run`.

    python fidelity_loops.py --model DIR --dtype f16 --prompts FILE --new-tokens N --repeats R --warmup W [--loop stream_generate]

`generate_step` (default): `for token, _ in generate_step(prompt, model, max_tokens=N,
sampler=argmax)`, each id timed as it is yielded (generate_step yields `y.item()`: the id is on the
host), nothing else: no protocol, no detokenizer, no response objects. `stream_generate`: the loop
mlx_lm.benchmark times, on our prompt ids and model copy (its detokenizer and GenerationResponse
per token, EOS ids emptied as the tool does), each response timed as it is yielded. Between our
runner (generate_step behind the protocol) and mlx_lm.benchmark (stream_generate in its own
process, random ids, a converted copy) they split that gap: bench/harness/fidelity/mlx-lm.md.

The model is loaded as the mlx-lm runner loads it (runner.py: load_model, every floating parameter
cast to the run dtype). FILE is a JSON list of {"id", "ids"}. Output lines as runners/torch/
fidelity_tools.py's `loop`: {"kind": "meta", ...}, then {"kind": "run", "prompt_id", "repeat",
"token_ids", "token_times_ns"}.
"""

from __future__ import annotations

import sys
import time
from importlib.metadata import version
from pathlib import Path

import mlx.core as mx
from mlx_lm.generate import generate_step, stream_generate
from mlx_lm.utils import load_tokenizer

from runner import MlxLmRunner, device_name, greedy
from qwen3_bench_fidelity import emit, fidelity_parser, read_prompts  # runner put python-common on the path


def main() -> int:
    parser = fidelity_parser(__doc__.split("\n\n")[0], ["f16", "bf16", "f32"])
    parser.add_argument("--loop", choices=["generate_step", "stream_generate"], default="generate_step")
    args = parser.parse_args()
    prompts = read_prompts(args.prompts)
    model = MlxLmRunner(args.model, args.dtype, args.device).model
    _, device = device_name(mx.default_device())
    note = ("generate_step loop called directly (greedy argmax sampler), no protocol, no detokenizer" if args.loop == "generate_step"
            else "stream_generate loop called directly (mlx_lm.benchmark's loop: detokenizer, GenerationResponse per token), our prompt ids")
    # Whether stream_generate's wired_limit context does anything on this device (it needs this key).
    wired = f"mx.device_info() has max_recommended_working_set_size: {'max_recommended_working_set_size' in mx.device_info()}"
    emit("meta", framework_version=f"mlx-lm {version('mlx-lm')}, mlx {mx.__version__}", device=device, notes=[note, wired])
    if args.loop == "stream_generate":
        tokenizer = load_tokenizer(Path(args.model))
        tokenizer._eos_token_ids = {}  # as mlx_lm.benchmark does: no early stop

    def run(ids: list[int]) -> tuple[list[int], list[int]]:
        tokens, times = [], []
        t0 = time.perf_counter_ns()
        if args.loop == "generate_step":
            for token, _ in generate_step(mx.array(ids), model, max_tokens=args.new_tokens, sampler=greedy):
                times.append(time.perf_counter_ns() - t0)
                tokens.append(int(token))
        else:
            for response in stream_generate(model, tokenizer, ids, max_tokens=args.new_tokens):
                times.append(time.perf_counter_ns() - t0)
                tokens.append(int(response.token))
        return tokens, times

    for p in prompts:
        for _ in range(args.warmup):
            run(p["ids"])
    for r in range(args.repeats):
        for p in prompts:
            tokens, times = run(p["ids"])
            emit("run", prompt_id=p["id"], repeat=r, token_ids=tokens, token_times_ns=times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
