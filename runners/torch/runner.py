"""PyTorch reference runner: Hugging Face transformers' Qwen3ForCausalLM, speaking runners/PROTOCOL.md.

Two variants of the same reference model:
- `eager` (framework `torch`): transformers' DynamicCache, a hand-written greedy loop so each token
  is timed when its id reaches the host. CUDA, MPS or CPU.
- `compile` (framework `torch-compile`): `model.generate()` with `cache_implementation="static"`,
  which makes transformers compile the decode step with torch.compile (CUDA graphs): the path
  PyTorch users take for speed. Tokens are timed in a streamer, which generate() hands each new id
  after copying it to the host. CUDA only.

And one model of its own, PyTorch at its fastest for this shape of work:
- `fast` (framework `torch-fast`): fast_model.py's Qwen3 (fused q/k/v and gate/up, static KV cache)
  decoded by fast_decode.py, the step compiled with CUDA graphs on CUDA, eager on the CPU and MPS.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import DynamicCache, GenerationConfig, Qwen3ForCausalLM  # noqa: E402
from transformers.generation.streamers import BaseStreamer  # noqa: E402

from qwen3_bench_protocol import ReadyInfo, parse_args, serve  # noqa: E402

import request_profile  # noqa: E402
from fast_decode import CAPACITY_STEP, FastQwen3  # noqa: E402
from fast_model import ATTENTION, DEFAULT_ATTENTION, checkpoint_files  # noqa: E402

TORCH_DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32}


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"{platform.machine()} CPU ({torch.get_num_threads()} threads)"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def model_limits(model_dir: str) -> tuple[int, int]:
    """(vocab_size, max_position_embeddings) from config.json: the protocol's bounds on ids and lengths."""
    config = json.loads((Path(model_dir) / "config.json").read_text())
    return int(config["vocab_size"]), int(config["max_position_embeddings"])


def load_transformers_qwen3(model_dir: str, dtype: str, device: torch.device) -> Qwen3ForCausalLM:
    """transformers' Qwen3ForCausalLM (sdpa attention) on `device`, in eval mode, its checkpoint's EOS
    cleared from its generation config: `GenerationConfig(eos_token_id=None)` alone does not turn EOS
    off, as transformers (4.57 and 5.17 alike) fills a config's unset fields, None included, from the
    model's own (Qwen3's 151645, from config.json). Measured on the tiny model: with the model's EOS
    set to its 4th greedy token, a 16-token generate() stopped after 4."""
    try:
        model = Qwen3ForCausalLM.from_pretrained(model_dir, dtype=TORCH_DTYPES[dtype], attn_implementation="sdpa")
    except RuntimeError as e:
        # transformers 4.57 reports a wrong shape as "size mismatch for weight ... for Linear",
        # naming neither the tensor nor the file: find it from the checkpoint's headers.
        mismatch = checkpoint_shape_mismatch(Path(model_dir))
        if mismatch is None:
            raise
        raise ValueError(mismatch) from e
    model = model.to(device).eval()
    model.generation_config.eos_token_id = None
    return model


def checkpoint_shape_mismatch(model_dir: Path) -> str | None:
    """The first checkpoint tensor whose shape differs from what config.json gives transformers'
    Qwen3 (the model built on the meta device, the tensors' shapes read from the safetensors
    headers), as a message naming its file and tensor; None if every shape fits."""
    from safetensors import safe_open

    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in Qwen3ForCausalLM(transformers.AutoConfig.from_pretrained(model_dir)).state_dict().items()}
    for file in checkpoint_files(model_dir):
        with safe_open(str(model_dir / file), framework="pt") as f:
            for name in f.keys():
                found = tuple(f.get_slice(name).get_shape())
                if name in expected and found != expected[name]:
                    return f"{model_dir / file}: tensor {name} has shape {list(found)}, config.json implies {list(expected[name])}"
    return None


class TorchRunner:
    def __init__(self, model_dir: str, dtype: str, device: str) -> None:
        self.vocab_size, self.max_positions = model_limits(model_dir)
        self.dtype = dtype
        self.device = pick_device(device)
        self.model = load_transformers_qwen3(model_dir, dtype, self.device)
        self.parameter_count = sum(p.numel() for p in self.model.parameters())
        self.generate([0, 1, 2], 2, time.perf_counter_ns())  # warm-up: kernels, allocator

    def ready_info(self) -> ReadyInfo:
        return ReadyInfo(
            framework="torch",
            framework_version=f"transformers {transformers.__version__}, torch {torch.__version__}",
            backend=self.device.type,
            device=device_label(self.device),
            dtype=self.dtype,
            parameter_count=self.parameter_count,
            notes=["transformers Qwen3ForCausalLM, eager, sdpa attention, DynamicCache"],
        )

    @torch.inference_mode()
    def generate(self, prompt_ids: list[int], max_new_tokens: int, t0_ns: int) -> tuple[list[int], list[int]]:
        cache = DynamicCache(config=self.model.config)
        input_ids = torch.tensor([prompt_ids], device=self.device)
        token_ids: list[int] = []
        times: list[int] = []
        for _ in range(max_new_tokens):
            # logits_to_keep=1: only the last position's logits are computed, in prefill too.
            logits = self.model(input_ids=input_ids, past_key_values=cache, use_cache=True, logits_to_keep=1).logits
            next_id = logits[:, -1, :].argmax(dim=-1, keepdim=True)
            token = int(next_id.item())  # reads back 8 bytes and waits for the device
            times.append(time.perf_counter_ns() - t0_ns)
            token_ids.append(token)
            input_ids = next_id
        return token_ids, times

    @torch.inference_mode()
    def score(self, prompt_ids: list[int], continuation_ids: list[int], top_k: int):
        tokens = torch.tensor([prompt_ids + continuation_ids[:-1]], device=self.device)
        logits = self.model(input_ids=tokens).logits[0, len(prompt_ids) - 1 :, :].float()
        values, order = logits.topk(top_k, dim=-1)
        argmax = logits.argmax(dim=-1)
        pairs = [[[int(i), float(v)] for i, v in zip(ids, vals)] for ids, vals in zip(order.tolist(), values.tolist())]
        return argmax.tolist(), pairs

    def peak_device_bytes(self) -> int | None:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        if self.device.type == "mps":
            return int(torch.mps.driver_allocated_memory())
        return None


class TimingStreamer(BaseStreamer):
    """Records each generated id and the time it reached the host; skips the prompt, which
    generate() puts first."""

    def __init__(self, t0_ns: int) -> None:
        self.t0_ns = t0_ns
        self.seen_prompt = False
        self.token_ids: list[int] = []
        self.times: list[int] = []

    def put(self, value: torch.Tensor) -> None:
        if not self.seen_prompt:
            self.seen_prompt = True
            return
        ids = value.reshape(-1).tolist()  # already on the host: generate() passes next_tokens.cpu()
        now = time.perf_counter_ns() - self.t0_ns
        for token in ids:
            self.token_ids.append(int(token))
            self.times.append(now)

    def end(self) -> None:
        pass


def greedy_generation(max_new_tokens: int, static_cache: bool) -> GenerationConfig:
    """generate()'s settings for a benchmark request: greedy, `max_new_tokens` new tokens whatever
    they are (the protocol's ignore_eos: no stopping criterion or logits processor for EOS, on a
    model from load_transformers_qwen3), a static cache or the default dynamic one."""
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=0,
        **({"cache_implementation": "static"} if static_cache else {}),
    )


class TorchCompileRunner(TorchRunner):
    def __init__(self, model_dir: str, dtype: str, device: str) -> None:
        super().__init__(model_dir, dtype, device)
        # Tests may run this variant's generate() path on CPU, where transformers does not compile.
        if self.device.type != "cuda" and os.environ.get("QWEN3_BENCH_TEST_COMPILE_VARIANT_ON_CPU") != "1":
            raise ValueError(f"--variant compile: needs a CUDA device (torch.compile with CUDA graphs), got {self.device.type}")

    def ready_info(self) -> ReadyInfo:
        info = super().ready_info()
        info.framework = "torch-compile"
        info.notes = ['transformers generate(cache_implementation="static"): decode step compiled by torch.compile (mode reduce-overhead, CUDA graphs); greedy, EOS disabled']
        return info

    @torch.inference_mode()
    def generate(self, prompt_ids: list[int], max_new_tokens: int, t0_ns: int) -> tuple[list[int], list[int]]:
        streamer = TimingStreamer(t0_ns)
        config = greedy_generation(max_new_tokens, static_cache=True)
        input_ids = torch.tensor([prompt_ids], device=self.device)
        # Every prompt position is real: without a mask, generate() would infer one from
        # pad_token_id and hide any prompt token whose id is 0.
        attention_mask = torch.ones_like(input_ids)
        self.model.generate(input_ids, attention_mask=attention_mask, generation_config=config, streamer=streamer)
        return streamer.token_ids, streamer.times


class TorchFastRunner:
    def __init__(self, model_dir: str, dtype: str, device: str, attention: str = DEFAULT_ATTENTION) -> None:
        self.vocab_size, self.max_positions = model_limits(model_dir)
        self.dtype = dtype
        self.device = pick_device(device)
        self.attention = attention
        self.model = FastQwen3(model_dir, TORCH_DTYPES[dtype], self.device, self.max_positions, attention)
        self.parameter_count = sum(p.numel() for p in self.model.decoder.model.parameters())
        # Warm-up: on CUDA, compiles the step and records its CUDA graph (reduce-overhead records
        # from the step's third call on), so the first request is served from the graph.
        self.generate([0, 1, 2], 5, time.perf_counter_ns())

    def ready_info(self) -> ReadyInfo:
        compiled = self.model.decoder.compiled
        return ReadyInfo(
            framework="torch-fast",
            framework_version=f"torch {torch.__version__}",
            backend=self.device.type,
            device=device_label(self.device),
            dtype=self.dtype,
            parameter_count=self.parameter_count,
            notes=[
                "hand-written Qwen3 (runners/torch/fast_model.py): fused q/k/v and gate/up, static KV cache attended whole under a mask "
                f"({CAPACITY_STEP}-position steps), argmax on the device, one id read back per token",
                f"attention={self.attention}: " + ("softmax(QKᵀ)V written out, f32 scores" if self.attention == "explicit" else "torch's scaled_dot_product_attention (enable_gqa)"),
                "decode step compiled: torch.compile(mode=reduce-overhead, fullgraph=True), CUDA graphs" if compiled
                else f"eager ({self.device.type}): compiled only on CUDA",
            ],
        )

    def generate(self, prompt_ids: list[int], max_new_tokens: int, t0_ns: int) -> tuple[list[int], list[int]]:
        return self.model.generate(prompt_ids, max_new_tokens, t0_ns)

    def score(self, prompt_ids: list[int], continuation_ids: list[int], top_k: int):
        logits = self.model.score(prompt_ids, continuation_ids)
        values, order = logits.topk(top_k, dim=-1)
        pairs = [[[int(i), float(v)] for i, v in zip(ids, vals)] for ids, vals in zip(order.tolist(), values.tolist())]
        return logits.argmax(dim=-1).tolist(), pairs

    def peak_device_bytes(self) -> int | None:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        if self.device.type == "mps":
            return int(torch.mps.driver_allocated_memory())
        return None


RUNNERS = {"eager": TorchRunner, "compile": TorchCompileRunner, "fast": TorchFastRunner}


def main() -> int:
    args = parse_args(__doc__, variants=list(RUNNERS), options={"--attention": {"choices": list(ATTENTION), "default": None, "help": "fast only: the attention body (fast_model.ATTENTION)"}})
    runner_class = RUNNERS[args.variant]
    extra = {"attention": args.attention} if args.attention else {}

    def make_runner():
        if extra and args.variant != "fast":
            raise ValueError(f"--attention: only the fast variant takes it, not {args.variant}")
        runner = runner_class(args.model, args.dtype, args.device, **extra)
        return request_profile.attach(runner, runner.device)

    return serve(make_runner)


if __name__ == "__main__":
    sys.exit(main())
