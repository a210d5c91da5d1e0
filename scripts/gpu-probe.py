#!/usr/bin/env python3
"""Times runner variants on a GPU host outside the harness, to find where a runner's time goes.

Each variant is one runner process spoken to through runners/PROTOCOL.md: one warm-up request,
then `--requests` timed ones on one prompt; decode tok/s from the runner's own token times, as the
harness computes it. A variant may also profile its kernels through CubeCL's logger (Burn runners):
the kernels of a 1-token request are subtracted from those of a `1 + --profile-tokens` request, so
what is left is the decode steps alone; the profile syncs after every kernel, so its wall time
is not a speed. Prints one table last; writes probe.json and each runner's stderr to --out.

Variants are `name=command` lines in --variants (a file); `{model}` is replaced by the model
folder, and a leading `ENV=value ...` sets environment variables for that runner:

    burn-cuda=QWEN3_BURN_STEP_TIMES=1 .offline/bin/qwen3-burn-runner --model {model} --backend cuda
    burn-cuda/profile=PROFILE .offline/bin/qwen3-burn-runner --model {model} --backend cuda
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path


def read_line(proc: subprocess.Popen, deadline: float) -> dict:
    """The next JSON line of the runner's stdout, or TimeoutError at `deadline`."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no reply in time")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            line = proc.stdout.readline()
            if not line:
                raise EOFError(f"runner exited with {proc.wait()}")
            return json.loads(line)


def decode_tok_s(times_ns: list[int]) -> float:
    return (len(times_ns) - 1) / ((times_ns[-1] - times_ns[0]) / 1e9)


DURATION = re.compile(r"^\|\s*([0-9.]+)(ns|µs|us|ms|s)\s*\|\s*(.*)$")
UNIT_S = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def profiled_kernels(log: Path, start: int, end: int) -> list[tuple[str, float]]:
    """(kernel name, seconds) for the profile lines CubeCL wrote between two file offsets."""
    with log.open("rb") as f:
        f.seek(start)
        text = f.read(end - start).decode("utf-8", "replace")
    kernels = []
    for line in text.splitlines():
        m = DURATION.match(line.strip())
        if m:
            kernels.append((m.group(3).strip()[:120], float(m.group(1)) * UNIT_S[m.group(2)]))
    return kernels


def settle(log: Path) -> int:
    """The log's size once CubeCL's background logger has stopped writing."""
    size = -1
    while size != log.stat().st_size:
        size = log.stat().st_size
        time.sleep(0.5)
    return size


def run_variant(name: str, command: str, args, prompt: list[int], out: Path) -> dict:
    words = shlex.split(command.replace("{model}", args.model))
    env = dict(os.environ)
    profile = words and words[0] == "PROFILE"
    if profile:
        words = words[1:]
        log = out / f"{safe(name)}.cubecl.log"
        env.update(CUBECL_DEBUG_LOG=str(log), CUBECL_DEBUG_OPTION="profile")
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    stderr = (out / f"{safe(name)}.stderr").open("w")
    started = time.monotonic()
    result: dict = {"name": name, "command": command}
    proc = None
    next_id = 0

    def request(body: dict, timeout: float) -> dict:
        nonlocal next_id
        next_id += 1
        proc.stdin.write(json.dumps({"id": next_id, **body}) + "\n")
        proc.stdin.flush()
        reply = read_line(proc, time.monotonic() + timeout)
        if not reply.get("ok"):
            raise RuntimeError(f"error reply: {reply}")
        return reply

    def generate(tokens: int, timeout: float) -> dict:
        return request({"op": "generate", "prompt_token_ids": prompt, "max_new_tokens": tokens, "ignore_eos": True}, timeout)

    try:
        proc = subprocess.Popen(words, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        ready = read_line(proc, started + args.ready_timeout)
        if ready.get("op") != "ready":
            raise RuntimeError(f"not ready: {ready}")
        result["ready_s"] = round(time.monotonic() - started, 1)
        result["ready"] = {k: ready.get(k) for k in ("framework", "framework_version", "backend", "device", "dtype", "fusion", "autotune", "notes")}
        warm = generate(args.tokens, args.request_timeout)
        result["warmup_decode_tok_s"] = round(decode_tok_s(warm["token_times_ns"]), 2)
        if profile:
            base = settle(log)
            generate(1, args.request_timeout)
            mid = settle(log)
            generate(1 + args.profile_tokens, args.request_timeout)
            end = settle(log)
            prefill_only = profiled_kernels(log, base, mid)
            with_decode = profiled_kernels(log, mid, end)
            steps = args.profile_tokens
            per_token = (len(with_decode) - len(prefill_only)) / steps
            gpu_s = (sum(t for _, t in with_decode) - sum(t for _, t in prefill_only)) / steps
            totals: dict[str, list[float]] = {}
            for kernel, seconds in with_decode:
                totals.setdefault(kernel, []).append(seconds)
            top = sorted(totals.items(), key=lambda kv: -sum(kv[1]))[:25]
            result["profile"] = {
                "kernels_per_token": round(per_token, 1),
                "gpu_ms_per_token": round(gpu_s * 1000, 3),
                "top_kernels_per_request": [
                    {"kernel": k, "count": len(v), "total_us": round(sum(v) * 1e6, 1), "mean_us": round(sum(v) / len(v) * 1e6, 2)} for k, v in top
                ],
            }
        else:
            runs = [generate(args.tokens, args.request_timeout) for _ in range(args.requests)]
            rates = [decode_tok_s(r["token_times_ns"]) for r in runs]
            result["decode_tok_s"] = [round(r, 2) for r in rates]
            result["median_decode_tok_s"] = round(statistics.median(rates), 2)
            result["ttft_ms"] = round(statistics.median(r["token_times_ns"][0] for r in runs) / 1e6, 2)
            result["tokens"] = runs[-1]["token_ids"][:16]
            result["peak_device_bytes"] = runs[-1].get("peak_device_bytes")
        request({"op": "shutdown"}, 60)
        proc.wait(timeout=60)  # a runner may still write files after its reply (QWEN3_BURN_PPROF)
    except Exception as e:  # one variant's failure must not stop the others
        result["error"] = f"{type(e).__name__}: {e}"
    finally:
        if proc and proc.poll() is None:
            proc.kill()
        if proc:
            proc.wait()
        stderr.close()
    tail = (out / f"{safe(name)}.stderr").read_text(errors="replace").splitlines()
    result["stderr_tail"] = tail[-6:]
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--variants", required=True, help="file of name=command lines")
    p.add_argument("--prompt", default="short", help="prompt id in fixtures/prompt_token_ids.json")
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--requests", type=int, default=3)
    p.add_argument("--profile-tokens", type=int, default=8)
    p.add_argument("--ready-timeout", type=float, default=300)
    p.add_argument("--request-timeout", type=float, default=120)
    p.add_argument("--deadline", type=float, default=0, help="seconds; variants not started by then are skipped")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fixtures = json.loads((Path(__file__).resolve().parent.parent / "fixtures/prompt_token_ids.json").read_text())
    prompt = fixtures["prompts"][args.prompt]["prompt_token_ids"]
    variants = [line.split("=", 1) for line in Path(args.variants).read_text().splitlines() if line.strip() and not line.startswith("#")]
    start = time.monotonic()
    results = []
    for name, command in variants:
        if args.deadline and time.monotonic() - start > args.deadline:
            results.append({"name": name, "error": "skipped: deadline"})
            continue
        print(f"== {name}: {command}", flush=True)
        results.append(run_variant(name, command, args, prompt, out))
        print(json.dumps(results[-1], indent=1), flush=True)
        (out / "probe.json").write_text(json.dumps({"prompt": args.prompt, "tokens": args.tokens, "results": results}, indent=1))
    print(f"\nprompt {args.prompt} ({len(prompt)} tokens), {args.tokens} new tokens, {args.requests} timed requests after 1 warm-up")
    print(f"{'variant':34} {'ready s':>8} {'decode tok/s':>13} {'ttft ms':>9} {'tokens':>7}  {'kernels/token':>13} {'gpu ms/token':>12}  note")
    reference = next((r["tokens"] for r in results if r.get("tokens")), None)
    for r in results:
        prof = r.get("profile", {})
        split = [line.split(": ", 1)[-1] for line in r.get("stderr_tail", []) if "ms/token" in line]
        note = r.get("error", "") or (split[-1] if split else "")
        tokens = r.get("tokens")
        same = "" if not tokens else "same" if tokens == reference else f"@{next((i for i, (a, b) in enumerate(zip(tokens, reference)) if a != b), len(tokens))}"
        print(f"{r['name']:34} {r.get('ready_s', ''):>8} {r.get('median_decode_tok_s', ''):>13} {r.get('ttft_ms', ''):>9} {same:>7}  "
              f"{prof.get('kernels_per_token', ''):>13} {prof.get('gpu_ms_per_token', ''):>12}  {note[:100]}")


if __name__ == "__main__":
    sys.exit(main())
