"""mlx-lm runner: mlx-lm's own Qwen3 model, loader and decode loop (`generate_step`), speaking
runners/PROTOCOL.md. Runs on Metal (macOS), CUDA (Linux, mlx[cuda13]) or CPU (mlx[cpu])."""

from __future__ import annotations

import inspect
import json
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import mlx.core as mx  # noqa: E402
from mlx.utils import tree_flatten, tree_map  # noqa: E402
from mlx_lm.generate import generate_step  # noqa: E402
from mlx_lm.models.cache import make_prompt_cache  # noqa: E402
from mlx_lm.utils import load_model, maybe_set_recommended_wired_limit  # noqa: E402

from qwen3_bench_protocol import ReadyInfo, parse_args, serve  # noqa: E402

MX_DTYPES = {"f16": mx.float16, "bf16": mx.bfloat16, "f32": mx.float32}
# generate_step prefills a prompt in chunks of its prefill_step_size; score's long sequences take
# the same chunks, read from generate_step itself so that the two never part.
PREFILL_STEP = inspect.signature(generate_step).parameters["prefill_step_size"].default


def greedy(logprobs: mx.array) -> mx.array:
    return mx.argmax(logprobs, axis=-1)


def device_name(device: mx.Device) -> tuple[str, str]:
    """(backend, human-readable device) for the default mlx device."""
    if device.type == mx.cpu:
        return "cpu", f"{platform.machine()} CPU ({platform.processor() or platform.system()})"
    # mx.device_info() serves every backend; mx.metal.device_info is deprecated (mlx 0.32.4 warns on every call).
    info = mx.device_info() if hasattr(mx, "device_info") else {}
    if mx.metal.is_available():
        return "metal", str(info.get("device_name", "Apple GPU"))
    if hasattr(mx, "cuda") and mx.cuda.is_available():
        return "cuda", str(info.get("device_name", "NVIDIA GPU"))
    return "gpu", "GPU"


def linux_cpu_blas_notes() -> list[str]:
    """mlx's Linux CPU wheel (mlx-cpu) links the BLAS it bundles; say which, since it sets the speed."""
    libs = Path(mx.__file__).resolve().parent.parent / "mlx_cpu.libs"
    blas = sorted(libs.glob("libblas*")) if libs.is_dir() else []
    if not blas:
        return []
    return [f"mlx-cpu links the BLAS bundled in its wheel ({blas[0].name}: netlib's reference BLAS, unoptimised and single-threaded), which sets its CPU matmul speed"]


def quantization_notes(model_dir: Path) -> list[str]:
    """What a quantized copy is (config.json's `quantization`) and how the harness made it
    (qwen3-bench-quant.json, bench/harness/mlx-quant.ts): converter version and weights sha256."""
    quantization = json.loads((model_dir / "config.json").read_text()).get("quantization")
    if not quantization:
        return []
    note = f"weights quantized: mlx {quantization.get('mode', 'affine')} {quantization['bits']}-bit, group size {quantization['group_size']}"
    record_file = model_dir / "qwen3-bench-quant.json"
    if record_file.exists():
        record = json.loads(record_file.read_text())
        shas = ", ".join(f"{name} sha256 {sha[:12]}…" for name, sha in record["weights_sha256"].items())
        note += f", made by {record['converter']} ({record['converter_version']}); {shas}"
    return [note]


class MlxLmRunner:
    def __init__(self, model_dir: str, dtype: str, device: str) -> None:
        if device == "cpu":
            mx.set_default_device(mx.cpu)
        elif device not in ("auto", "gpu"):
            raise ValueError(f"--device: unknown device {device!r} (auto, cpu, gpu)")
        config = json.loads((Path(model_dir) / "config.json").read_text())
        self.vocab_size = int(config["vocab_size"])
        self.max_positions = int(config["max_position_embeddings"])
        self.dtype = dtype
        self.model_dir = Path(model_dir)
        # mlx-lm's loader reads a quantized copy's config.json `quantization` and builds QuantizedLinear layers.
        self.model, _ = load_model(Path(model_dir))
        target = MX_DTYPES[dtype]
        # Cast every floating parameter to the run dtype, as mlx_lm.convert --dtype does.
        self.model.update(tree_map(lambda p: p.astype(target) if mx.issubdtype(p.dtype, mx.floating) else p, self.model.parameters()))
        mx.eval(self.model.parameters())
        self.parameter_count = sum(p.size for _, p in tree_flatten(self.model.parameters()))
        # What mlx-lm's generate/stream_generate do around every generation (their wired_limit
        # context): keep up to the GPU's recommended working set resident (macOS 15+). Set once,
        # since this process only generates; None where there is no Metal device.
        self.wired_limit_set = mx.default_device().type == mx.gpu and mx.metal.is_available() and maybe_set_recommended_wired_limit() is not None
        # One warm-up pass so the first request does not pay for lazy initialisation.
        list(generate_step(mx.array([0, 1, 2]), self.model, max_tokens=2, sampler=greedy))

    def ready_info(self) -> ReadyInfo:
        backend, device = device_name(mx.default_device())
        notes = ["mlx_lm.generate.generate_step with async_eval pipelining; prompt prefilled in chunks of 2048 tokens plus the last token, as mlx-lm does"]
        if self.wired_limit_set:
            notes.append("wired limit set to max_recommended_working_set_size, as mlx-lm's stream_generate does")
        notes += quantization_notes(self.model_dir)
        notes += linux_cpu_blas_notes() if backend == "cpu" else []
        return ReadyInfo(
            framework="mlx-lm",
            framework_version=f"mlx-lm {version('mlx-lm')}, mlx {mx.__version__}",
            backend=backend,
            device=device,
            dtype=self.dtype,
            parameter_count=self.parameter_count,
            notes=notes,
        )

    def generate(self, prompt_ids: list[int], max_new_tokens: int, t0_ns: int) -> tuple[list[int], list[int]]:
        token_ids: list[int] = []
        times: list[int] = []
        # generate_step yields y.item(): the id is on the host when it is yielded.
        for token, _ in generate_step(mx.array(prompt_ids), self.model, max_tokens=max_new_tokens, sampler=greedy):
            times.append(time.perf_counter_ns() - t0_ns)
            token_ids.append(int(token))
        return token_ids, times

    def score(self, prompt_ids: list[int], continuation_ids: list[int], top_k: int):
        seq = prompt_ids + continuation_ids[:-1]
        first = len(prompt_ids) - 1  # the first position whose logits are scored
        if len(seq) <= PREFILL_STEP:
            logits = self.model(mx.array(seq)[None])[0, first:, :]
        else:
            # A long sequence (a depth case) runs as generate_step's prefill does: chunks over a KV
            # cache up to the first scored position, then the scored positions in one pass. Its
            # attention is chunk × cache, and the LM head runs on the scored positions alone.
            cache = make_prompt_cache(self.model)
            for start in range(0, first, PREFILL_STEP):
                self.model(mx.array(seq[start : min(start + PREFILL_STEP, first)])[None], cache=cache)
                mx.eval([c.state for c in cache])
            logits = self.model(mx.array(seq[first:])[None], cache=cache)[0]
        logits = logits.astype(mx.float32)
        order = mx.argsort(-logits, axis=-1)[:, :top_k]
        values = mx.take_along_axis(logits, order, axis=-1)
        argmax = mx.argmax(logits, axis=-1)
        mx.eval(order, values, argmax)
        pairs = [[[int(i), float(v)] for i, v in zip(row_ids, row_vals)] for row_ids, row_vals in zip(order.tolist(), values.tolist())]
        return argmax.tolist(), pairs

    def peak_device_bytes(self) -> int | None:
        if mx.default_device().type == mx.cpu:
            return None
        return int(mx.get_peak_memory())


def main() -> int:
    args = parse_args(__doc__)
    return serve(lambda: MlxLmRunner(args.model, args.dtype, args.device))


if __name__ == "__main__":
    sys.exit(main())
