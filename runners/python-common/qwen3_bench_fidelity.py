"""The Python fidelity tools' side of bench/harness/fidelity/python-tools.ts, shared by
runners/torch/fidelity_tools.py and runners/mlx-lm/fidelity_loops.py: the command line the harness
passes them (python-tools.ts's `common` arguments), and the JSON lines it parses back.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def fidelity_parser(description: str, dtypes: list[str]) -> argparse.ArgumentParser:
    """The arguments every tool takes; a tool adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", choices=dtypes, default="f16")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--prompts", required=True, help='a JSON list of {"id", "ids"}: the harness\'s prompt ids')
    parser.add_argument("--new-tokens", type=int, required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=1)
    return parser


def read_prompts(path: str) -> list[dict]:
    """The --prompts file: [{"id": str, "ids": [int, ...]}, ...]."""
    return json.loads(Path(path).read_text())


def emit(kind: str, **fields) -> None:
    """One output line, {"kind": KIND, ...}, flushed at once (a time limit may cut the output short)."""
    print(json.dumps({"kind": kind, **fields}), flush=True)
