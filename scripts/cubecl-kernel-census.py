#!/usr/bin/env python3
"""Counts the kernels in a CubeCL profiling log, by kernel name.

    python3 scripts/cubecl-kernel-census.py LOG [--steps N] [--max-us 1000]

LOG is what CubeCL writes with `CUBECL_DEBUG_LOG=FILE CUBECL_DEBUG_OPTION=profile` (the harness's
`BENCH_PROFILER=burn-kernels`: profiles/<label>.cubecl-kernels.log): besides each kernel's source
at its first compilation, one line per launch, `| <duration> | <kernel name> | <its generics> ...`,
with the duration in ns, µs, ms or s. The profiler synchronises after every kernel, so durations
are each launch measured alone (13 µs and more on the H200 of 2026-11-29), not the kernel's share
of a replayed decode graph: the counts say which kernels a step holds, the times only rank them.

Launches longer than --max-us (default 1000 µs) are left out of the table and counted apart: a
kernel's first launch includes its compilation. --steps N divides the counts by N (the decode
steps the log covers) to give launches per step. Prints a Markdown table, most time first.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

LINE = re.compile(r"^\|\s*([0-9.]+)(ns|µs|us|ms|s)\s*\|\s*([^|]+?)\s*\|")
TO_US = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}


def census(lines, max_us: float) -> tuple[dict[str, list[float]], int]:
    """Durations in µs per kernel name, and how many launches were over max_us."""
    per_kernel: dict[str, list[float]] = defaultdict(list)
    over = 0
    for line in lines:
        m = LINE.match(line)
        if not m:
            continue
        us = float(m.group(1)) * TO_US[m.group(2)]
        if us > max_us:
            over += 1
            continue
        per_kernel[m.group(3)].append(us)
    return per_kernel, over


def table(per_kernel: dict[str, list[float]], over: int, steps: int | None) -> str:
    total = sum(sum(v) for v in per_kernel.values())
    launches = sum(len(v) for v in per_kernel.values())
    rows = ["| kernel | launches | per step | median µs | total ms | share |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, us in sorted(per_kernel.items(), key=lambda kv: -sum(kv[1])):
        per_step = f"{len(us) / steps:.1f}" if steps else ""
        rows.append(f"| {name} | {len(us)} | {per_step} | {statistics.median(us):.2f} | {sum(us) / 1e3:.3f} | {100 * sum(us) / total:.1f} % |")
    rows.append(f"| all | {launches} | {f'{launches / steps:.1f}' if steps else ''} | | {total / 1e3:.3f} | 100 % |")
    return "\n".join(rows) + f"\n\n{over} launch(es) over the --max-us limit left out (compilation included)."


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("log", type=Path)
    p.add_argument("--steps", type=int, help="decode steps the log covers: adds launches per step")
    p.add_argument("--max-us", type=float, default=1000.0, help="leave out launches longer than this (µs)")
    a = p.parse_args()
    if not a.log.is_file():
        sys.exit(f"{a.log}: no such file")
    if a.steps is not None and a.steps < 1:
        sys.exit(f"--steps must be a positive integer, got {a.steps}")
    with a.log.open(encoding="utf-8", errors="replace") as f:
        per_kernel, over = census(f, a.max_us)
    if not per_kernel:
        sys.exit(f"{a.log}: no kernel launch lines (`| <duration> | <kernel> | ...`): was it written with CUBECL_DEBUG_OPTION=profile?")
    print(table(per_kernel, over, a.steps))


if __name__ == "__main__":
    main()
