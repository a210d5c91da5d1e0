"""PyTorch's own ways of decoding, timed outside the protocol, for `qwen3-bench fidelity --run`.

    python fidelity_tools.py generate --model DIR --dtype f16 --prompts FILE --new-tokens N --repeats R --warmup W [--cache static|dynamic]
    python fidelity_tools.py loop     --model DIR --dtype f16 --prompts FILE --new-tokens N --repeats R --warmup W [--reference FILE] [--attention explicit|sdpa]
    python fidelity_tools.py timing-check --model DIR --dtype f16 --prompts FILE --new-tokens N --repeats R [--cache static|dynamic]

- `generate`: transformers' `generate()` as its users call it, no streamer, timed from outside:
  T(k) is the wall time of generate() with k new tokens (EOS ignored, device synchronised), and
  the harness takes (N − 1) / (T(N) − T(1)) per repeat. `--cache static` is what torch-compile runs
  (on CUDA transformers compiles the step with CUDA graphs); `dynamic` what `torch` runs.
- `timing-check`: not a tool of the table but a check of `generate`'s method against the
  torch-compile runner's: the per-token rate of a streamed generate() call beside
  (N − 1) / (T(N) − T(1)) of the same calls, and of calls without a streamer.
- `loop`: the torch-fast runner's model and decode loop (fast_decode.py) called directly: per-token
  times as the protocol takes them. With `--reference` (a JSON object {prompt id: token ids}) it
  also prints the teacher-forced argmax on those tokens, for the harness's agreement rule.

FILE is a JSON list of {"id", "ids"}. Prompts run longest first, so the static caches are sized once.
Output, one JSON object a line (bench/harness/fidelity/python-tools.ts parses it):
{"kind": "meta", "framework_version", "device", "notes"}; {"kind": "run", "prompt_id", "repeat",
"token_ids", and "token_times_ns" (loop) or "t1_ns", "t2_ns", "tn_ns" (generate)}; {"kind": "teacher_forced",
"prompt_id", "argmax_ids"}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402

from fast_model import ATTENTION, DEFAULT_ATTENTION  # noqa: E402
from runner import TORCH_DTYPES, TimingStreamer, device_label, greedy_generation, load_transformers_qwen3, pick_device, synchronize  # noqa: E402
from qwen3_bench_fidelity import emit, fidelity_parser, read_prompts  # noqa: E402  (runner put python-common on the path)


@torch.inference_mode()
def timed_generate(model, device: torch.device, ids: list[int], k: int, static_cache: bool, streamer: TimingStreamer | None = None) -> tuple[int, list[int]]:
    """One generate() call with the torch-compile runner's settings (torch's: the default, dynamic
    cache), `streamer` as that runner times tokens or none; its wall time in ns, device synchronised,
    and its new ids."""
    config = greedy_generation(k, static_cache=static_cache)
    inputs = torch.tensor([ids], device=device)
    synchronize(device)
    t0 = time.perf_counter_ns()
    # An explicit all-ones mask: with pad_token_id=0 generate() would hide every prompt token of id 0.
    out = model.generate(inputs, attention_mask=torch.ones_like(inputs), generation_config=config, streamer=streamer)
    synchronize(device)
    return time.perf_counter_ns() - t0, out[0, len(ids):].tolist()


def transformers_generate(args: argparse.Namespace, prompts: list[dict], device: torch.device) -> None:
    import transformers

    model = load_transformers_qwen3(args.model, args.dtype, device)
    static = args.cache == "static"

    def timed(ids: list[int], k: int) -> tuple[int, list[int]]:
        return timed_generate(model, device, ids, k, static)

    compiled = static and device.type == "cuda"
    emit("meta", framework_version=f"transformers {transformers.__version__}, torch {torch.__version__}", device=device_label(device),
         notes=[f'generate({"cache_implementation=static" if static else "dynamic cache"})'
                + (", torch.compile reduce-overhead (CUDA graphs)" if compiled else ", eager") + "; no streamer; T(1), T(2) and T(N) alternate per repeat"])
    for p in prompts:
        for _ in range(args.warmup):
            timed(p["ids"], args.new_tokens)
            timed(p["ids"], 1)
    for r in range(args.repeats):
        for p in prompts:
            t1, _ = timed(p["ids"], 1)
            # T(2) as well: T(2) - T(1) is the first decode step of a call with what generate()
            # adds to it, (T(N) - T(2)) / (N - 2) the steps after it; the runner's per-token times
            # split the same way.
            t2, _ = timed(p["ids"], 2)
            tn, tokens = timed(p["ids"], args.new_tokens)
            emit("run", prompt_id=p["id"], repeat=r, t1_ns=t1, t2_ns=t2, tn_ns=tn, token_ids=tokens)


def fast_loop(args: argparse.Namespace, prompts: list[dict], device: torch.device) -> None:
    from fast_decode import FastQwen3

    config = json.loads((Path(args.model) / "config.json").read_text())
    model = FastQwen3(args.model, TORCH_DTYPES[args.dtype], device, int(config["max_position_embeddings"]), args.attention)
    model.fit(max(len(p["ids"]) for p in prompts) + args.new_tokens)
    compiled = model.decoder.compiled
    emit("meta", framework_version=f"torch {torch.__version__}", device=device_label(device),
         notes=["runners/torch/fast_decode.py's loop called directly, no protocol", f"attention={args.attention}",
                "decode step: torch.compile(mode=reduce-overhead, fullgraph=True), CUDA graphs" if compiled else f"eager ({device.type})"])
    for p in prompts:
        for _ in range(max(1, args.warmup)):  # the first call compiles the step and records its graph
            model.generate(p["ids"], args.new_tokens, time.perf_counter_ns())
    for r in range(args.repeats):
        for p in prompts:
            tokens, times = model.generate(p["ids"], args.new_tokens, time.perf_counter_ns())
            emit("run", prompt_id=p["id"], repeat=r, token_ids=tokens, token_times_ns=times)
    reference = json.loads(Path(args.reference).read_text()) if args.reference else {}
    for p in prompts:
        if p["id"] in reference:
            argmax = model.score(p["ids"], reference[p["id"]]).argmax(dim=-1).tolist()
            emit("teacher_forced", prompt_id=p["id"], argmax_ids=argmax)


def timing_check(args: argparse.Namespace, prompts: list[dict], device: torch.device) -> None:
    """Whether the two ways of timing generate() agree on the same calls: each T(N) call carries the
    torch-compile runner's TimingStreamer, so one call gives both its per-token rate,
    (N − 1) / (t_N − t_1), and, with a T(1) call beside it, (N − 1) / (T(N) − T(1)); the same
    pair of calls without a streamer gives the tool's own figure. One "timing" line per repeat."""
    import transformers

    model = load_transformers_qwen3(args.model, args.dtype, device)

    def call(ids: list[int], k: int, streamed: bool) -> tuple[int, TimingStreamer | None]:
        # Only the streamer's differences are read: its origin may be any time.
        streamer = TimingStreamer(time.perf_counter_ns()) if streamed else None
        wall_ns, _ = timed_generate(model, device, ids, k, args.cache == "static", streamer)
        return wall_ns, streamer

    n = args.new_tokens
    emit("meta", framework_version=f"transformers {transformers.__version__}, torch {torch.__version__}", device=device_label(device),
         notes=[f"generate({args.cache} cache): per-token rate of streamed calls beside (N − 1) / (T(N) − T(1)) with and without a streamer"])
    for p in prompts:
        for _ in range(args.warmup):
            for streamed in (True, False):
                call(p["ids"], n, streamed)
                call(p["ids"], 1, streamed)
    for r in range(args.repeats):
        for p in prompts:
            t1_streamed, _ = call(p["ids"], 1, True)
            tn_streamed, streamer = call(p["ids"], n, True)
            t1, _ = call(p["ids"], 1, False)
            tn, _ = call(p["ids"], n, False)
            times = streamer.times
            emit("timing", prompt_id=p["id"], repeat=r, new_tokens=n,
                 per_token_tps=(n - 1) / ((times[-1] - times[0]) / 1e9),
                 streamed_whole_call_tps=(n - 1) / ((tn_streamed - t1_streamed) / 1e9),
                 whole_call_tps=(n - 1) / ((tn - t1) / 1e9))


def main() -> int:
    parser = fidelity_parser(__doc__.split("\n\n")[0], list(TORCH_DTYPES))
    parser.add_argument("tool", choices=["generate", "loop", "timing-check"])
    parser.add_argument("--cache", choices=["static", "dynamic"], default="static")
    parser.add_argument("--reference")
    parser.add_argument("--attention", choices=list(ATTENTION), default=DEFAULT_ATTENTION, help="loop: the torch-fast label's attention flag")
    args = parser.parse_args()
    prompts = sorted(read_prompts(args.prompts), key=lambda p: -len(p["ids"]))
    device = pick_device(args.device)
    {"generate": transformers_generate, "loop": fast_loop, "timing-check": timing_check}[args.tool](args, prompts, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
