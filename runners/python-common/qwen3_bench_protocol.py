"""The runner side of runners/PROTOCOL.md, shared by the Python runners.

A runner module builds a `Runner` (model loaded, on its device) and calls `serve(make_runner)`.
This module owns stdin/stdout, request validation, error replies and the clock; the runner owns
the model and the decode loop.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Protocol

PROTOCOL_VERSION = 1
PROCESS_START_NS = time.perf_counter_ns()


class BadRequest(Exception):
    """A request the runner cannot serve; answered with kind bad_request."""


@dataclass
class ReadyInfo:
    framework: str
    framework_version: str
    backend: str
    device: str
    dtype: str
    parameter_count: int
    fusion: bool | None = None
    autotune: bool | None = None
    notes: list[str] = field(default_factory=list)


class Runner(Protocol):
    vocab_size: int
    max_positions: int

    def ready_info(self) -> ReadyInfo: ...

    def generate(self, prompt_ids: list[int], max_new_tokens: int, t0_ns: int) -> tuple[list[int], list[int]]:
        """Greedy-decodes exactly max_new_tokens tokens; returns (token_ids, token_times_ns) where
        each time is perf_counter_ns() - t0_ns taken after that token's id is on the host."""
        ...

    def score(self, prompt_ids: list[int], continuation_ids: list[int], top_k: int) -> tuple[list[int], list[list[list[float]]]]:
        """Teacher-forced pass; returns (argmax_ids, top_k pairs) per continuation position."""
        ...

    def peak_device_bytes(self) -> int | None: ...


def parse_args(description: str, variants: list[str] | None = None, options: dict[str, dict] | None = None) -> argparse.Namespace:
    """Every runner's arguments; `options` adds a runner's own (name: argparse keywords)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", required=True, help="Hugging Face-layout model folder")
    parser.add_argument("--dtype", choices=["f16", "bf16", "f32"], default="f16")
    parser.add_argument("--device", default="auto")
    if variants:
        parser.add_argument("--variant", choices=variants, default=variants[0])
    for name, spec in (options or {}).items():
        parser.add_argument(name, **spec)
    return parser.parse_args()


def peak_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def _token_ids(request: dict, name: str, vocab_size: int) -> list[int]:
    value = request.get(name)
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{name}: must be a non-empty array of token ids")
    for i, token in enumerate(value):
        if not isinstance(token, int) or isinstance(token, bool) or token < 0:
            raise BadRequest(f"{name}[{i}]: {token!r} is not a non-negative integer")
        if token >= vocab_size:
            raise BadRequest(f"{name}[{i}]: {token} is outside the vocabulary ({vocab_size})")
    return value


def _positive_int(request: dict, name: str) -> int:
    value = request.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest(f"{name}: must be an integer >= 1, got {value!r}")
    return value


def _check_length(runner: Runner, total: int) -> None:
    if total > runner.max_positions:
        raise BadRequest(f"sequence of {total} tokens exceeds max_position_embeddings ({runner.max_positions})")


def handle(runner: Runner, request: dict, t0_ns: int) -> dict:
    op = request.get("op")
    if op == "generate":
        prompt = _token_ids(request, "prompt_token_ids", runner.vocab_size)
        max_new = _positive_int(request, "max_new_tokens")
        if request.get("ignore_eos") is not True:
            raise BadRequest("ignore_eos: must be true (the benchmark always generates exactly max_new_tokens)")
        _check_length(runner, len(prompt) + max_new)
        token_ids, times = runner.generate(prompt, max_new, t0_ns)
        return {
            "op": "generate",
            "token_ids": token_ids,
            "token_times_ns": times,
            "peak_rss_bytes": peak_rss_bytes(),
            "peak_device_bytes": runner.peak_device_bytes(),
        }
    if op == "score":
        prompt = _token_ids(request, "prompt_token_ids", runner.vocab_size)
        continuation = _token_ids(request, "continuation_token_ids", runner.vocab_size)
        top_k = _positive_int(request, "top_k")
        if top_k > runner.vocab_size:
            raise BadRequest(f"top_k: {top_k} exceeds the vocabulary ({runner.vocab_size})")
        _check_length(runner, len(prompt) + len(continuation))
        argmax, pairs = runner.score(prompt, continuation, top_k)
        return {"op": "score", "argmax_ids": argmax, "top_k": pairs}
    raise BadRequest(f"op: unknown operation {op!r} (expected generate, score or shutdown)")


def serve(make_runner: Callable[[], Runner]) -> int:
    # Protocol lines go to the original stdout; everything else printed to fd 1 (framework chatter,
    # C extensions) is redirected to stderr so it cannot corrupt the protocol stream.
    protocol_out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(message: dict) -> None:
        protocol_out.write(json.dumps(message, separators=(",", ":")) + "\n")
        protocol_out.flush()

    try:
        runner = make_runner()
        info = runner.ready_info()
    except Exception as e:  # noqa: BLE001 - any load failure becomes one fatal line
        traceback.print_exc(file=sys.stderr)
        send({"op": "fatal", "error": {"kind": "model", "message": f"{type(e).__name__}: {e}"}})
        return 1
    send({
        "op": "ready",
        "protocol_version": PROTOCOL_VERSION,
        "framework": info.framework,
        "framework_version": info.framework_version,
        "backend": info.backend,
        "device": info.device,
        "dtype": info.dtype,
        "parameter_count": info.parameter_count,
        "load_time_ms": (time.perf_counter_ns() - PROCESS_START_NS) / 1e6,
        "fusion": info.fusion,
        "autotune": info.autotune,
        "notes": info.notes,
    })

    for line in sys.stdin:
        if not line.strip():
            continue
        t0_ns = time.perf_counter_ns()
        request_id = None
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise BadRequest("request must be a JSON object")
            request_id = request.get("id")
            if not isinstance(request_id, int) or isinstance(request_id, bool):
                request_id = None
                raise BadRequest("id: must be an integer")
            if request.get("op") == "shutdown":
                send({"id": request_id, "ok": True, "op": "shutdown"})
                return 0
            reply = {"id": request_id, "ok": True, **handle(runner, request, t0_ns)}
            if reply["op"] == "generate":
                reply["total_time_ns"] = time.perf_counter_ns() - t0_ns
            send(reply)
        except json.JSONDecodeError as e:
            send({"id": None, "ok": False, "error": {"kind": "bad_request", "message": f"malformed JSON: {e}"}})
        except BadRequest as e:
            send({"id": request_id, "ok": False, "error": {"kind": "bad_request", "message": str(e)}})
        except Exception as e:  # noqa: BLE001 - the runner must stay usable after any failure
            traceback.print_exc(file=sys.stderr)
            send({"id": request_id, "ok": False, "error": {"kind": "internal", "message": f"{type(e).__name__}: {e}"}})
    return 0
