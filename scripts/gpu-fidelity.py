#!/usr/bin/env python3
"""Fidelity check (issue 14, item 5): is each runner as fast as its framework allows?

Measures batch-1 greedy decode tok/s of one model folder, dtype, set of prompt lengths P and new
tokens N with each framework's *own* way, outside the harness and its protocol, so that
`qwen3-bench fidelity RESULTS_DIR FIDELITY_JSONL` can set our runners' numbers beside them:

| tool | its own way | compared with |
| --- | --- | --- |
| `mlx_lm.benchmark` | `python -m mlx_lm benchmark -p P -g N -n R` on a copy converted to the dtype (`mlx_lm convert --dtype`); prompts are mlx-lm's random ids; its generation_tps is N / (t_N − t_1), reported here as (N − 1) / (t_N − t_1) too | mlx-lm |
| `transformers generate` | the torch-compile runner's generate() (static cache: torch.compile + CUDA graphs), no streamer, timed from outside: T(k) = wall time of generate with k new tokens, EOS ignored; decode tok/s = (N − 1) / (T(N) − T(1)) per repeat | torch-compile |
| `hand-written torch` | scripts/fidelity_torch_qwen3.py: static KV cache, fused QKV and gate/up, decode step compiled with mode reduce-overhead (CUDA graphs), argmax on device, `.item()` per step; the protocol's formula | torch-compile (another code path: the gap is what transformers costs) |
| `burn --self-bench` | the Burn runner with `--self-bench P,N,R`: its own generation loop after load, warm-up and check, no JSON between tokens; with several `--burn-backends` (flags included: `cuda[kernels=custom]`), each variant's greedy tokens are checked against the first's | burn-<backend> |

Prompt ids are 0..P−1 (default P = 28, 99, 529: bench/prompts.json's lengths after the template),
or the real ids of a `qwen3-bench tokenize` file (--prompts-file; Burn's --self-bench always uses
0..P−1 and mlx_lm.benchmark its random ids: decode speed does not depend on the ids). Each tool
runs --warmup untimed generations per prompt, then --repeats timed ones. The hand-written model's
greedy tokens are checked against transformers': exactly in f32 on the CPU (--check-f32-tokens
on the shortest prompt), and on the run device with the harness's rule for f16/bf16 (identical, or
first divergence ≥ 8 and teacher-forced top-1 agreement ≥ 0.9).

Every tool runs in its own process with a timeout (--part-timeout-s, within --budget-s in all);
one that fails leaves an error record and its log, and the others go on. Writes OUT/fidelity.jsonl
(one JSON object a line: `meta`, `run`, `agreement`, `error` records), OUT/<tool>.log and
OUT/fidelity.md, and prints the table last. Needs: python3 with torch + transformers (the torch
tools), a Python with mlx-lm (--mlx-python; default runners/mlx-lm/.venv, which the harness's setup
makes: `BENCH_FRAMEWORKS=mlx-lm node bench/cli/main.ts setup`), a Burn runner binary (--burn-bin).

    python3 scripts/gpu-fidelity.py --model models/qwen3-0.6b-synthetic --out results/fidelity
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LENGTHS = "28,99,529"
MLX_DTYPES = {"f16": "float16", "bf16": "bfloat16", "f32": "float32"}
# The harness's agreement rule for f16/bf16 (bench/prompts.json "agreement").
MIN_FIRST_DIVERGENCE = 8
MIN_TOP1_AGREEMENT = 0.9

TOOLS = {
    "transformers": ("transformers generate", "torch-compile", True),
    "hand-written": ("hand-written torch", "torch-compile", False),
    "mlx": ("mlx_lm.benchmark", "mlx-lm", True),
    "burn": ("burn --self-bench", "burn-{backend}", True),
}


def emit(record: dict) -> None:
    """One record as a JSON line on stdout (a part's output, read by the parent)."""
    print(json.dumps(record), flush=True)


# ---------------------------------------------------------------- prompts, shared by every part


def load_prompts(args: argparse.Namespace) -> list[dict]:
    """[{id, ids}] sorted by length: the tokenize file's prompts, or ids 0..P−1 per length."""
    if args.prompts_file:
        path = Path(args.prompts_file)
        try:
            entries = json.loads(path.read_text())
            prompts = [{"id": str(e["id"]), "ids": [int(i) for i in e["prompt_token_ids"]]} for e in entries]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SystemExit(f"{path}: expected `qwen3-bench tokenize` output, a list of {{id, prompt_token_ids}}: {e}")
    else:
        try:
            lengths = [int(x) for x in args.prompt_lengths.split(",")]
        except ValueError:
            raise SystemExit(f"--prompt-lengths: expected integers separated by commas, got {args.prompt_lengths!r}")
        if any(n < 1 for n in lengths):
            raise SystemExit(f"--prompt-lengths: every length must be ≥ 1, got {args.prompt_lengths!r}")
        prompts = [{"id": f"p{n}", "ids": list(range(n))} for n in lengths]
    return sorted(prompts, key=lambda p: len(p["ids"]))


def run_record(tool_key: str, prompt_tokens: int, new_tokens: int, repeat: int, decode_tps: float, dtype: str, backend: str | None = None, **extra) -> dict:
    tool, runner, same = TOOLS[tool_key]
    return {"record": "run", "tool": tool, "runner": runner.format(backend=backend), "same_code_path": same, "prompt_tokens": prompt_tokens,
            "new_tokens": new_tokens, "repeat": repeat, "decode_tps": decode_tps, "dtype": dtype, **extra}


def error_record(tool_key: str, message: str, prompt_tokens: int | None = None, backend: str | None = None) -> dict:
    tool, runner, _ = TOOLS[tool_key]
    return {"record": "error", "tool": tool, "runner": runner.format(backend=backend), "prompt_tokens": prompt_tokens, "message": message}


def meta_record(tool_key: str, backend: str | None = None, **fields) -> dict:
    tool, runner, same = TOOLS[tool_key]
    return {"record": "meta", "tool": tool, "runner": runner.format(backend=backend), "same_code_path": same, **fields}


def first_divergence(a: list[int], b: list[int]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


# ---------------------------------------------------------------- torch parts (run in python3 with torch)


def torch_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def torch_dtype(name: str):
    import torch

    return {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}[name]


def device_label(device) -> str:
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.machine()} CPU ({torch.get_num_threads()} threads)"


def part_transformers(args: argparse.Namespace) -> None:
    """T(1) and T(N) of the torch-compile runner's generate(), per prompt and repeat."""
    import torch
    import transformers
    from transformers import GenerationConfig, Qwen3ForCausalLM

    device = torch_device(args.torch_device)
    prompts = load_prompts(args)
    n = args.new_tokens
    model = Qwen3ForCausalLM.from_pretrained(args.model, dtype=torch_dtype(args.dtype), attn_implementation="sdpa").to(device).eval()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    @torch.inference_mode()
    def timed_generate(ids: list[int], k: int) -> tuple[float, list[int]]:
        # The torch-compile runner's GenerationConfig, without its streamer: generate() on its own.
        config = GenerationConfig(max_new_tokens=k, do_sample=False, eos_token_id=None, pad_token_id=0, cache_implementation="static")
        inputs = torch.tensor([ids], device=device)
        # An explicit all-ones mask: with pad_token_id=0, generate() would infer one that hides every
        # prompt token with id 0 (ids 0..P−1 start with one). Real prompts get this mask by default.
        mask = torch.ones_like(inputs)
        sync()
        t0 = time.perf_counter()
        out = model.generate(inputs, attention_mask=mask, generation_config=config)
        sync()
        secs = time.perf_counter() - t0
        new = out[0, len(ids):].tolist()
        if len(new) != k:
            raise RuntimeError(f"generate returned {len(new)} new tokens, asked for {k}")
        return secs, new

    # The longest prompt first: transformers sizes the static cache to the largest (prompt + new
    # tokens) seen so far and never shrinks it, so later calls reuse one cache and one compiled step,
    # as in the runner once every prompt has been seen.
    t0 = time.perf_counter()
    for p in reversed(prompts):
        for _ in range(max(1, args.warmup)):
            timed_generate(p["ids"], n)
            timed_generate(p["ids"], 1)
    warmup_secs = time.perf_counter() - t0
    compiled = device.type == "cuda"
    emit(meta_record("transformers", framework_version=f"transformers {transformers.__version__}, torch {torch.__version__}", device=device_label(device),
                     dtype=args.dtype, warmup_secs=round(warmup_secs, 1),
                     notes=[f'generate(cache_implementation="static"){", torch.compile reduce-overhead (CUDA graphs)" if compiled else ", eager: transformers compiles only on CUDA"}; no streamer; '
                            "T(1) and T(N) alternate per repeat"]))
    for r in range(args.repeats):
        for p in prompts:
            t1, _ = timed_generate(p["ids"], 1)
            tn, tokens = timed_generate(p["ids"], n)
            emit(run_record("transformers", len(p["ids"]), n, r, (n - 1) / (tn - t1), args.dtype, t1_secs=t1, tn_secs=tn,
                            prompt_id=p["id"], **({"token_ids": tokens} if r == 0 else {})))


def part_hand_written(args: argparse.Namespace) -> None:
    """The hand-written model: timings by the protocol's formula, then its token checks."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fidelity_torch_qwen3 import HandQwen3

    device = torch_device(args.torch_device)
    prompts = load_prompts(args)
    n = args.new_tokens
    max_len = len(prompts[-1]["ids"]) + n
    model = HandQwen3(args.model, torch_dtype(args.dtype), device, max_len)
    t0 = time.perf_counter()
    for p in reversed(prompts):
        for _ in range(max(1, args.warmup)):
            model.generate(p["ids"], n)
    warmup_secs = time.perf_counter() - t0
    notes = ["static KV cache of the longest prompt + N positions, attended whole with a mask (as transformers' static cache)"]
    if model.compiled_step is not None:
        from torch._dynamo.utils import counters

        skips = sum(counters["inductor"].get(k, 0) for k in ("cudagraph_skips",))
        notes.append("decode step: torch.compile(mode='reduce-overhead', fullgraph=True), CUDA graphs" + (f"; CUDA graphs SKIPPED {skips}× (see log)" if skips else ""))
    else:
        notes.append("eager (no CUDA): not compiled")
    emit(meta_record("hand-written", framework_version=f"torch {torch.__version__}", device=device_label(device), dtype=args.dtype,
                     warmup_secs=round(warmup_secs, 1), notes=notes))
    own_tokens: dict[int, list[int]] = {}
    for r in range(args.repeats):
        for p in prompts:
            tokens, times = model.generate(p["ids"], n)
            own_tokens.setdefault(len(p["ids"]), tokens)
            emit(run_record("hand-written", len(p["ids"]), n, r, (n - 1) / ((times[-1] - times[0]) / 1e9), args.dtype,
                            ttft_ms=times[0] / 1e6, prompt_id=p["id"]))

    # Agreement with transformers on the run device: its greedy tokens, handed over by the parent.
    reference = json.loads(Path(args.reference_tokens).read_text()) if args.reference_tokens and Path(args.reference_tokens).exists() else {}
    for p in prompts:
        ref = reference.get(str(len(p["ids"])))
        if ref is None:
            emit(error_record("hand-written", "no transformers tokens to check against (its part failed)", len(p["ids"])))
            continue
        ours = own_tokens[len(p["ids"])]
        divergence = first_divergence(ours, ref)
        top1 = sum(a == b for a, b in zip(model.teacher_forced_argmax(p["ids"], ref), ref)) / len(ref)
        exact = args.dtype == "f32"
        passed = divergence is None if exact else (divergence is None or divergence >= min(MIN_FIRST_DIVERGENCE, len(ref))) and top1 >= MIN_TOP1_AGREEMENT
        emit({"record": "agreement", "tool": "hand-written torch", "reference": "transformers generate", "device": device.type, "dtype": args.dtype,
              "prompt_tokens": len(p["ids"]), "tokens": len(ref), "identical": divergence is None, "first_divergence": divergence,
              "top1_agreement": top1, "passed": passed})
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if args.check_f32_tokens > 0:
        check_f32_on_cpu(args, prompts[0]["ids"], args.check_f32_tokens)


def check_f32_on_cpu(args: argparse.Namespace, prompt: list[int], k: int) -> None:
    """f32 on the CPU: the hand-written model's greedy tokens must equal transformers' exactly."""
    import torch
    from transformers import GenerationConfig, Qwen3ForCausalLM

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fidelity_torch_qwen3 import HandQwen3

    cpu = torch.device("cpu")
    reference = Qwen3ForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="sdpa").eval()
    with torch.inference_mode():
        config = GenerationConfig(max_new_tokens=k, do_sample=False, eos_token_id=None, pad_token_id=0)
        inputs = torch.tensor([prompt])
        ref = reference.generate(inputs, attention_mask=torch.ones_like(inputs), generation_config=config)[0, len(prompt):].tolist()
    del reference
    ours, _ = HandQwen3(args.model, torch.float32, cpu, len(prompt) + k).generate(prompt, k)
    divergence = first_divergence(ours, ref)
    emit({"record": "agreement", "tool": "hand-written torch", "reference": "transformers generate", "device": "cpu", "dtype": "f32",
          "prompt_tokens": len(prompt), "tokens": k, "identical": divergence is None, "first_divergence": divergence, "top1_agreement": None,
          "passed": divergence is None})


# ---------------------------------------------------------------- parent: runs parts, mlx and Burn


class Parent:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.jsonl = self.out / "fidelity.jsonl"
        self.jsonl.write_text("")
        self.records: list[dict] = []
        self.started = time.monotonic()

    def add(self, record: dict) -> None:
        self.records.append(record)
        with self.jsonl.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def time_left(self) -> float:
        return min(self.args.part_timeout_s, self.args.budget_s - (time.monotonic() - self.started))

    def run(self, command: list[str], log_name: str, env: dict | None = None) -> tuple[int | None, list[str]]:
        """Runs a command with the time left, its stderr to OUT/<log_name>.log; (exit code or None when
        it timed out or never started, stdout lines: the last one says why when None)."""
        timeout = self.time_left()
        log = self.out / f"{log_name}.log"
        if timeout < 5:
            return None, [f"not started: the budget (--budget-s {self.args.budget_s}) is spent"]
        with log.open("a") as err:
            err.write(f"$ {' '.join(command)}\n")
            err.flush()
            try:
                proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=REPO)
            except subprocess.TimeoutExpired as e:
                out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
                return None, out.splitlines() + [f"timed out after {timeout:.0f} s"]
            except OSError as e:
                return None, [f"cannot start {command[0]}: {e}"]
        return proc.returncode, proc.stdout.splitlines()

    def log_tail(self, log_name: str, lines: int = 6) -> str:
        log = self.out / f"{log_name}.log"
        text = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        return " | ".join(text[-lines:])

    # ---- torch parts: this script again, one part per process
    def torch_part(self, tool_key: str, part: str, extra: list[str]) -> list[dict]:
        a = self.args
        command = [sys.executable, __file__, "--part", part, "--model", a.model, "--dtype", a.dtype, "--new-tokens", str(a.new_tokens),
                   "--repeats", str(a.repeats), "--warmup", str(a.warmup), "--torch-device", a.torch_device,
                   "--check-f32-tokens", str(a.check_f32_tokens), *(["--prompts-file", a.prompts_file] if a.prompts_file else ["--prompt-lengths", a.prompt_lengths]), *extra]
        code, lines = self.run(command, part)
        records = []
        for line in lines:
            try:
                record = json.loads(line) if line.startswith("{") else None
            except ValueError:
                record = None  # chatter on stdout: the part's records are whole JSON lines
            if isinstance(record, dict) and "record" in record:
                records.append(record)
                self.add(record)
        if code != 0:
            self.add(error_record(tool_key, f"{failure(code, lines)}: {self.log_tail(part)}"))
        return records

    def transformers(self) -> None:
        records = self.torch_part("transformers", "transformers", [])
        tokens = {str(r["prompt_tokens"]): r["token_ids"] for r in records if r.get("record") == "run" and "token_ids" in r}
        (self.out / "transformers-tokens.json").write_text(json.dumps(tokens))

    def hand_written(self) -> None:
        self.torch_part("hand-written", "hand-written", ["--reference-tokens", str(self.out / "transformers-tokens.json")])

    # ---- mlx-lm's own benchmark
    def mlx(self) -> None:
        a = self.args
        python = a.mlx_python or str(REPO / "runners/mlx-lm/.venv/bin/python")
        if not Path(python).exists():
            self.add(error_record("mlx", f"no Python with mlx-lm at {python}: make runners/mlx-lm/.venv first (`BENCH_FRAMEWORKS=mlx-lm node bench/cli/main.ts setup`) or pass --mlx-python"))
            return
        env = {"HF_HUB_OFFLINE": "1"}
        code, lines = self.run([python, "-c", "import mlx.core as mx, mlx_lm, importlib.metadata as m; "
                                       "print(f'mlx-lm {m.version(\"mlx-lm\")}, mlx {mx.__version__}'); print(mx.default_device())"], "mlx", env)
        if code != 0:
            self.add(error_record("mlx", f"{python} cannot import mlx_lm: {self.log_tail('mlx')}"))
            return
        version, device = (lines + ["?", "?"])[:2]
        # mlx_lm.benchmark runs the checkpoint's dtype: convert a copy to the run dtype first.
        converted = Path(tempfile.mkdtemp(prefix="fidelity-mlx-")) / "model"
        try:
            code, lines = self.run([python, "-m", "mlx_lm", "convert", "--hf-path", a.model, "--mlx-path", str(converted), "--dtype", MLX_DTYPES[a.dtype]], "mlx", env)
            if code != 0:
                self.add(error_record("mlx", f"mlx_lm convert --dtype {MLX_DTYPES[a.dtype]}: {failure(code, lines)}: {self.log_tail('mlx')}"))
                return
            self.add(meta_record("mlx", framework_version=version, device=device, dtype=a.dtype,
                                 notes=[f"python -m mlx_lm benchmark on a copy made by mlx_lm convert --dtype {MLX_DTYPES[a.dtype]}; random prompt ids; one warm-up generation (its own)",
                                        "decode_tps = generation_tps × (N − 1) / N: mlx-lm divides N tokens by the time after the first"]))
            for p in load_prompts(a):
                length = len(p["ids"])
                code, lines = self.run([python, "-m", "mlx_lm", "benchmark", "--model", str(converted), "-p", str(length), "-g", str(a.new_tokens), "-n", str(a.repeats)], "mlx", env)
                trials = parse_mlx_trials("\n".join(lines))
                for i, t in enumerate(trials):
                    self.add(run_record("mlx", length, a.new_tokens, i, t["generation_tps"] * (a.new_tokens - 1) / a.new_tokens, a.dtype, **t))
                if code != 0 or len(trials) != a.repeats:
                    self.add(error_record("mlx", f"{failure(code, lines)}, {len(trials)} of {a.repeats} trials: {self.log_tail('mlx')}", length))
        finally:
            shutil.rmtree(converted.parent, ignore_errors=True)

    # ---- Burn without the protocol
    def burn(self) -> None:
        a = self.args
        binary = a.burn_bin or next((str(p) for p in burn_candidates() if p.exists()), None)
        if not binary or not Path(binary).exists():
            self.add(error_record("burn", f"no Burn runner binary ({binary or ', '.join(map(str, burn_candidates()))}): pass --burn-bin", backend=burn_variants(a.burn_backends)[0]))
            return
        restore_cubecl_cache()
        # The first timed run's greedy tokens per (variant, prompt length): the variants are checked
        # against the first one listed, below.
        tokens: dict[tuple[str, int], list[int]] = {}
        for backend in burn_variants(a.burn_backends):
            # `cuda[kernels=custom]`: the harness label's runner flags, as the runner's own arguments.
            name, flags = burn_variant_args(backend)
            described, timed_out = False, False
            for p in load_prompts(a):
                length = len(p["ids"])
                if timed_out:  # a cold CubeCL cache autotunes for minutes: leave the time to the next backend
                    self.add(error_record("burn", "not run: a shorter prompt timed out on this backend", length, backend))
                    continue
                spec = f"{length},{a.new_tokens},{a.warmup + a.repeats}"
                code, lines = self.run([binary, "--model", a.model, "--dtype", a.dtype, "--backend", name, *flags, "--self-bench", spec], f"burn-{backend}")
                ready, runs = parse_burn_lines(lines)
                if ready and not described:
                    described = True
                    self.add(meta_record("burn", backend, framework_version=f"burn {ready.get('framework_version')}", device=ready.get("device"), dtype=ready.get("dtype"),
                                         build=ready.get("build"), notes=[f"{binary} --self-bench P,N,{a.warmup}+{a.repeats} --backend {' '.join([name, *flags])}; the first {a.warmup} runs are warm-up, dropped; prompt ids 0..P−1"] + ready.get("notes", [])))
                for run in runs[a.warmup:]:
                    self.add(run_record("burn", length, a.new_tokens, run["self_bench"] - a.warmup, run["decode_tps"], a.dtype, backend, ttft_ms=run.get("ttft_ms")))
                if len(runs) > a.warmup and "token_ids" in runs[a.warmup]:
                    tokens[(backend, length)] = runs[a.warmup]["token_ids"]
                if code != 0 or len(runs) != a.warmup + a.repeats:
                    fatal = next((l for l in lines if '"fatal"' in l), "")
                    self.add(error_record("burn", f"{failure(code, lines)}, {max(0, len(runs) - a.warmup)} of {a.repeats} runs: {fatal or self.log_tail(f'burn-{backend}')}", length, backend))
                timed_out = code is None
        self.burn_agreement(tokens)

    def burn_agreement(self, tokens: dict[tuple[str, int], list[int]]) -> None:
        """Each Burn variant's greedy tokens against the first variant's, per prompt length: exactly
        in f32, else identical up to the harness's minimum first divergence (no teacher forcing here)."""
        a = self.args
        variants = burn_variants(a.burn_backends)
        for backend in variants[1:]:
            for (first, length), ref in tokens.items():
                ours = tokens.get((backend, length))
                if first != variants[0] or ours is None:
                    continue
                divergence = first_divergence(ours, ref)
                passed = divergence is None if a.dtype == "f32" else divergence is None or divergence >= min(MIN_FIRST_DIVERGENCE, len(ref))
                self.add({"record": "agreement", "tool": f"burn-{backend} --self-bench", "reference": f"burn-{first} --self-bench", "device": burn_variant_args(backend)[0],
                          "dtype": a.dtype, "prompt_tokens": length, "tokens": len(ref), "identical": divergence is None, "first_divergence": divergence,
                          "top1_agreement": None, "passed": passed})


def failure(code: int | None, lines: list[str]) -> str:
    """Why a command failed, in a few words: its exit code, or the line Parent.run added."""
    return f"exit {code}" if code is not None else (lines[-1] if lines else "did not finish")


def burn_variants(spec: str) -> list[str]:
    """`cuda,cuda[kernels=custom,memory-plan=fitted]` -> its entries (commas inside brackets kept)."""
    entries, depth, current = [], 0, ""
    for ch in spec:
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            entries.append(current)
            current = ""
        else:
            current += ch
    return [e.strip() for e in [*entries, current] if e.strip()]


def burn_variant_args(entry: str) -> tuple[str, list[str]]:
    """`cuda[kernels=custom]` -> ("cuda", ["--kernels", "custom"]): the harness's runner flags (bench/harness/runner-flags.ts)."""
    m = re.fullmatch(r"([a-z0-9-]+)(?:\[(.*)\])?", entry)
    if not m:
        raise SystemExit(f"--burn-backends: cannot read {entry!r} (expected BACKEND or BACKEND[flag=value,...])")
    flags: list[str] = []
    for pair in filter(None, (m.group(2) or "").split(",")):
        key, _, value = pair.partition("=")
        flags += [f"--{key.strip()}", value.strip()]
    return m.group(1), flags


def burn_candidates() -> list[Path]:
    paths = [REPO / ".offline/bin/qwen3-burn-runner"]
    if os.environ.get("BENCH_BURN_BIN"):
        paths.insert(0, Path(os.environ["BENCH_BURN_BIN"]))
    paths.append(Path.home() / ".cache/qwen3-bench/cargo-target/release/qwen3-burn-runner")
    return paths


def restore_cubecl_cache() -> None:
    """As scripts/offline-run.sh does: bring back an archived CubeCL cache so Burn skips minutes of autotuning."""
    parent = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    archive = REPO / ".offline/cubecl-cache.tar.gz"
    if archive.exists() and not (parent / "cubecl").exists():
        parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(parent)


TRIAL = re.compile(r"^Trial \d+:\s+(.*)$")


def parse_mlx_trials(text: str) -> list[dict]:
    """mlx_lm.benchmark's `Trial i:  prompt_tps=..., generation_tps=..., peak_memory=..., total_time=...` lines."""
    trials = []
    for line in text.splitlines():
        m = TRIAL.match(line.strip())
        if m:
            fields = dict(kv.split("=", 1) for kv in m.group(1).split(", ") if "=" in kv)
            trials.append({k: float(v) for k, v in fields.items()})
    return [t for t in trials if "generation_tps" in t]


def parse_burn_lines(lines: list[str]) -> tuple[dict | None, list[dict]]:
    """The runner's `ready` line and its self-bench lines."""
    ready, runs = None, []
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if obj.get("op") == "ready":
            ready = obj
        elif "self_bench" in obj:
            runs.append(obj)
    return ready, runs


# ---------------------------------------------------------------- table


def table(records: list[dict]) -> str:
    """Markdown: one row per (tool, runner, prompt length): median decode tok/s, min–max; errors as rows."""
    rows = ["| tool | compare with | prompt tokens | new tokens | decode tok/s (median) | min–max | runs |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    keys: list[tuple] = []
    for r in records:
        if r["record"] in ("run", "error"):
            key = (r["tool"], r["runner"], r.get("prompt_tokens"))
            if key not in keys:
                keys.append(key)
    for tool, runner, length in keys:
        runs = [r for r in records if r["record"] == "run" and (r["tool"], r["runner"], r["prompt_tokens"]) == (tool, runner, length)]
        errors = [r["message"] for r in records if r["record"] == "error" and (r["tool"], r["runner"], r.get("prompt_tokens")) == (tool, runner, length)]
        if runs:
            tps = [r["decode_tps"] for r in runs]
            rows.append(f"| {tool} | {runner} | {length} | {runs[0]['new_tokens']} | {statistics.median(tps):.1f} | {min(tps):.1f}–{max(tps):.1f} | {len(tps)} |")
        for message in errors:
            flat = message.replace("|", "/").replace("\n", " ")
            short = flat if len(flat) <= 300 else f"{flat[:60]} … {flat[-240:]}"  # the exception is at the end
            rows.append(f"| {tool} | {runner} | {length if length is not None else '–'} | | error: {short} | | |")
    agreements = [r for r in records if r["record"] == "agreement"]
    if agreements:
        rows += ["", "| tokens of | against | device, dtype | prompt tokens | tokens | identical | first divergence | teacher-forced top-1 | passed |", "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | --- |"]
        for g in agreements:
            top1 = "–" if g["top1_agreement"] is None else f"{g['top1_agreement']:.3f}"
            div = "–" if g["first_divergence"] is None else g["first_divergence"]
            rows.append(f"| {g['tool']} | {g['reference']} | {g['device']}, {g['dtype']} | {g['prompt_tokens']} | {g['tokens']} | {'yes' if g['identical'] else 'no'} | {div} | {top1} | {'yes' if g['passed'] else 'NO'} |")
    return "\n".join(rows)


def git_describe() -> str | None:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(REPO / "models/qwen3-0.6b-synthetic"), help="Hugging Face-layout Qwen3 folder")
    p.add_argument("--dtype", choices=["f16", "bf16", "f32"], default="f16")
    p.add_argument("--prompt-lengths", default=DEFAULT_LENGTHS, help="prompt lengths P (ids 0..P−1), comma-separated")
    p.add_argument("--prompts-file", help="`qwen3-bench tokenize` output: real prompt ids instead of --prompt-lengths")
    p.add_argument("--new-tokens", type=int, default=128, help="N new tokens per generation (≥ 2)")
    p.add_argument("--repeats", type=int, default=5, help="R timed generations per prompt and tool")
    p.add_argument("--warmup", type=int, default=1, help="untimed generations per prompt before the timed ones")
    p.add_argument("--tools", default="transformers,hand-written,mlx,burn", help="any of " + ",".join(TOOLS))
    p.add_argument("--torch-device", default="auto", help="auto (cuda when available), cuda, cpu")
    p.add_argument("--check-f32-tokens", type=int, default=16, help="greedy tokens of the f32 CPU exactness check (0: skip)")
    p.add_argument("--mlx-python", help="Python with mlx-lm (default runners/mlx-lm/.venv/bin/python)")
    p.add_argument("--burn-bin", help="Burn runner binary (default $BENCH_BURN_BIN, .offline/bin/, ~/.cache/qwen3-bench)")
    p.add_argument("--burn-backends", default="cuda", help="Burn backends, comma-separated (cuda, wgpu, cpu), each with the harness label's runner flags if any: cuda[kernels=custom]")
    p.add_argument("--out", default=str(REPO / "results" / ("fidelity-" + datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ"))))
    p.add_argument("--part-timeout-s", type=float, default=150, help="longest one tool may run")
    p.add_argument("--budget-s", type=float, default=420, help="longest the whole check may run")
    p.add_argument("--part", choices=["transformers", "hand-written"], help=argparse.SUPPRESS)
    p.add_argument("--reference-tokens", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.new_tokens < 2 or args.repeats < 1 or args.warmup < 0:
        p.error("--new-tokens must be ≥ 2, --repeats ≥ 1, --warmup ≥ 0")
    unknown = set(args.tools.split(",")) - set(TOOLS)
    if unknown:
        p.error(f"--tools: unknown {sorted(unknown)}; known: {', '.join(TOOLS)}")
    if not (Path(args.model) / "config.json").exists():
        p.error(f"--model {args.model}: no config.json there")
    args.model = str(Path(args.model).resolve())
    return args


def main() -> int:
    args = parse_args()
    if args.part:
        {"transformers": part_transformers, "hand-written": part_hand_written}[args.part](args)
        return 0
    parent = Parent(args)
    parent.add({"record": "meta", "tool": "gpu-fidelity.py", "runner": None, "harness_commit": git_describe(), "host": platform.node(),
                "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": sys.argv, "model": args.model, "dtype": args.dtype,
                "new_tokens": args.new_tokens, "repeats": args.repeats, "warmup": args.warmup, "prompt_tokens": [len(p["ids"]) for p in load_prompts(args)]})
    steps = {"transformers": parent.transformers, "hand-written": parent.hand_written, "mlx": parent.mlx, "burn": parent.burn}
    for key in args.tools.split(","):
        t0 = time.monotonic()
        try:
            steps[key]()
        except Exception as e:  # one tool failing must not stop the others
            parent.add(error_record(key, f"{type(e).__name__}: {e} ({traceback.format_exc().strip().splitlines()[-2].strip()})"))
        print(f"[fidelity] {key}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    markdown = table(parent.records)
    (parent.out / "fidelity.md").write_text(markdown + "\n")
    print(f"fidelity: {parent.jsonl} ({time.monotonic() - parent.started:.0f} s)\n")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
