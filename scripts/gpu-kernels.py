#!/usr/bin/env python3
"""GPU-host probe for the Burn runner's custom kernels (scripts/gpu-kernels.sh runs it; torch only).

`synth DIR`: a Qwen3-0.6B-shaped checkpoint for speed probes on a host without Node: the harness's
0.6b preset config, Normal(0, 0.02) matrices and ones for norms like bench/harness/model/synth.ts,
but drawn with torch's generator (seed 0), so the bytes differ from the harness's model. Speed
does not depend on the values; the runner's start-up decode check runs on whatever it loads.

`gemv`: cuBLAS's batch-1 products (torch.matmul, f16) on the runner's decode shapes, and the
card's device-to-device copy bandwidth (bytes read + written), the ceiling the kernels are
measured against. Each product cycles through distinct weight copies (together 8x the 50 MB L2)
inside one CUDA graph of 64 products, replayed 30 times; the median replay over 64 is the time per
product, as src/kernels/bench.rs times Burn's side.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import torch

SHAPES = [("qkv 1024->4096", 1024, 4096), ("o 2048->1024", 2048, 1024), ("gate_up 1024->6144", 1024, 6144),
          ("down 3072->1024", 3072, 1024), ("lm_head 1024->151936", 1024, 151936)]
CYCLED_BYTES = 400 << 20
LAUNCHES = 64
REPLAYS = 30

CONFIG_0_6B = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024, "initializer_range": 0.02,
    "intermediate_size": 3072, "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
    "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-6,
    "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True,
    "torch_dtype": "float16", "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False,
    "vocab_size": 151936,
}


def synth(out: Path) -> None:
    from safetensors.torch import save_file

    c = CONFIG_0_6B
    d, hd, inter = c["hidden_size"], c["head_dim"], c["intermediate_size"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    gen = torch.Generator(device="cuda").manual_seed(0)

    def normal(*shape: int) -> torch.Tensor:
        return (torch.randn(*shape, generator=gen, device="cuda") * 0.02).half().cpu()

    ones = lambda n: torch.ones(n, dtype=torch.float16)  # noqa: E731
    tensors = {"model.embed_tokens.weight": normal(c["vocab_size"], d), "model.norm.weight": ones(d)}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        tensors.update({
            f"{p}.input_layernorm.weight": ones(d), f"{p}.post_attention_layernorm.weight": ones(d),
            f"{p}.self_attn.q_proj.weight": normal(q, d), f"{p}.self_attn.k_proj.weight": normal(kv, d),
            f"{p}.self_attn.v_proj.weight": normal(kv, d), f"{p}.self_attn.o_proj.weight": normal(d, q),
            f"{p}.self_attn.q_norm.weight": ones(hd), f"{p}.self_attn.k_norm.weight": ones(hd),
            f"{p}.mlp.gate_proj.weight": normal(inter, d), f"{p}.mlp.up_proj.weight": normal(inter, d),
            f"{p}.mlp.down_proj.weight": normal(d, inter),
        })
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(c, indent=2))


def replay_seconds(fn) -> float:
    """Median seconds per call of `fn` (which makes LAUNCHES calls), from CUDA graph replays."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    times = []
    for _ in range(REPLAYS):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times) / LAUNCHES


def gemv() -> None:
    n = 1 << 30
    src, dst = torch.empty(n, dtype=torch.uint8, device="cuda"), torch.empty(n, dtype=torch.uint8, device="cuda")
    copy_s = replay_seconds(lambda: [dst.copy_(src) for _ in range(LAUNCHES)])
    copy_gbps = 2 * n / copy_s / 1e9
    print(f"device copy: {copy_gbps:.0f} GB/s (read + write, 1 GiB)")
    print("| shape | weight MB | torch µs | torch GB/s | share of copy |")
    print("|---|---:|---:|---:|---:|")
    rows = []
    for name, k, m in SHAPES:
        weight_bytes = k * m * 2
        copies = max(2, min(LAUNCHES, -(-CYCLED_BYTES // weight_bytes)))
        ws = [torch.randn(m, k, device="cuda", dtype=torch.float16) * 0.05 for _ in range(copies)]
        x = torch.randn(1, k, device="cuda", dtype=torch.float16)
        outs = [None] * LAUNCHES

        def run():
            for i in range(LAUNCHES):
                outs[i] = torch.matmul(x, ws[i % copies].t())

        s = replay_seconds(run)
        gbps = weight_bytes / s / 1e9
        print(f"| {name} | {weight_bytes / 1e6:.1f} | {s * 1e6:.2f} | {gbps:.0f} | {gbps / copy_gbps:.0%} |")
        rows.append({"shape": name, "in": k, "out": m, "weight_bytes": weight_bytes, "copies": copies, "torch_s": s})
        del ws
    print(json.dumps({"copy_gbps": copy_gbps, "torch": rows, "device": torch.cuda.get_device_name()}), file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:2] == ["synth"]:
        synth(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["gemv"]:
        gemv()
    else:
        sys.exit("usage: gpu-kernels.py synth DIR | gemv")
