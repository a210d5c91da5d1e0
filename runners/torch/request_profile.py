"""`QWEN3_TORCH_PROFILE=FILE`: where a torch runner's time goes, as `--host-profile FILE` is for the Burn runner.

Profiles every `generate` request from the second on (the first is the probe's or harness's
warm-up, where torch.compile compiles) with torch.profiler, CPU and, on CUDA, kernel activity, and
writes FILE at exit: per generated token, the GPU kernels and copies (those replayed from CUDA
graphs included), their GPU time, and the host's wall time; then torch.profiler's table of the heaviest
operators and kernels. A diagnostic: profiling slows the runner.
"""

from __future__ import annotations

import atexit
import os
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile


def attach(runner, device: torch.device):
    """Wraps `runner.generate` when QWEN3_TORCH_PROFILE is set; returns the runner."""
    path = os.environ.get("QWEN3_TORCH_PROFILE")
    if not path:
        return runner
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    state = {"requests": 0, "tokens": 0, "wall_s": 0.0, "profiler": None}
    generate = runner.generate

    def profiled_generate(prompt_ids, max_new_tokens, t0_ns):
        state["requests"] += 1
        if state["requests"] < 2:
            return generate(prompt_ids, max_new_tokens, t0_ns)
        if state["profiler"] is None:
            state["profiler"] = profile(activities=activities)
            state["profiler"].start()
        started = time.perf_counter()
        result = generate(prompt_ids, max_new_tokens, t0_ns)
        state["wall_s"] += time.perf_counter() - started
        state["tokens"] += len(result[0])
        return result

    def write():
        profiler = state["profiler"]
        if profiler is None:
            return
        profiler.stop()
        tokens = max(state["tokens"], 1)
        # GPU-side events: kernels (those replayed from CUDA graphs too), copies and memsets.
        kernels = [e for e in profiler.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        gpu_us = sum(e.device_time_total for e in kernels)
        sort = "self_device_time_total" if kernels else "self_cpu_time_total"
        lines = [
            f"profiled requests: {state['requests'] - 1}, generated tokens: {state['tokens']}",
            f"per generated token: {len(kernels) / tokens:.1f} GPU kernels and copies, {gpu_us / tokens / 1000:.3f} ms GPU time, "
            f"{state['wall_s'] / tokens * 1000:.3f} ms wall",
            "",
            profiler.key_averages().table(sort_by=sort, row_limit=40, max_name_column_width=90),
        ]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"torch runner: profile written to {path}", file=sys.stderr)

    runner.generate = profiled_generate
    atexit.register(write)
    return runner
