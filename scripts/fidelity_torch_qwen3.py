"""A minimal hand-written PyTorch Qwen3 for batch-1 greedy decode (scripts/gpu-fidelity.py's
"hand-written torch" tool): how fast plain PyTorch can decode this model, beside transformers.

It reads a Hugging Face Qwen3 folder as it is (config.json, model.safetensors or shards; the
checkpoint's weight names, tied embeddings when `tie_word_embeddings` or no `lm_head.weight`) and
follows transformers' Qwen3 numerics: RMSNorm in f32 then weight × x in the run dtype, q/k RMSNorm
per head before RoPE (rotate-half, cos/sin computed in f32 and cast), GQA, SwiGLU. For speed it
fuses q/k/v and gate/up into one matrix each, keeps a static KV cache of `max_len` positions (zeros,
so masked slots never hold NaN), and has one `forward(ids, positions)` for prefill and decode: keys
at positions ≤ the query's are attended, so the same code serves both.

The decode step is `forward` on one token read from device buffers (the last token and its
position), which it advances in place; on CUDA it is compiled with torch.compile(mode=
"reduce-overhead", fullgraph=True), i.e. replayed as a CUDA graph. Every buffer the step reads or
writes is marked static so CUDA graphs neither copy nor skip it. Argmax runs on the device; only the
token id is read back (`.item()`) each step, as runners/PROTOCOL.md asks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def read_config(model_dir: Path) -> dict:
    config = json.loads((model_dir / "config.json").read_text())
    for field in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size", "rms_norm_eps", "vocab_size"):
        if field not in config:
            raise ValueError(f"{model_dir / 'config.json'}: field {field} missing")
    scaling = config.get("rope_scaling")
    if scaling not in (None, {}) and (scaling or {}).get("rope_type", "default") != "default":
        raise ValueError(f"{model_dir / 'config.json'}: field rope_scaling: only default RoPE is implemented, got {scaling}")
    return config


def rope_theta(config: dict) -> float:
    """rope_theta at the top level (transformers 4.x configs) or under rope_parameters (5.x)."""
    if "rope_theta" in config:
        return float(config["rope_theta"])
    return float((config.get("rope_parameters") or {}).get("rope_theta", 10000.0))


def load_checkpoint(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    index = model_dir / "model.safetensors.index.json"
    if index.exists():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors: dict[str, torch.Tensor] = {}
    for name in files:
        tensors.update(load_file(str(model_dir / name), device="cpu"))
    return tensors


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' Qwen3RMSNorm: normalise in f32, cast back, then scale in the run dtype."""
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return weight * xf.to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class HandQwen3(nn.Module):
    def __init__(self, model_dir: str | Path, dtype: torch.dtype, device: torch.device, max_len: int) -> None:
        super().__init__()
        model_dir = Path(model_dir)
        c = read_config(model_dir)
        self.layers = int(c["num_hidden_layers"])
        self.heads = int(c["num_attention_heads"])
        self.kv_heads = int(c["num_key_value_heads"])
        self.head_dim = int(c.get("head_dim") or c["hidden_size"] // self.heads)
        self.intermediate = int(c["intermediate_size"])
        self.eps = float(c["rms_norm_eps"])
        self.max_len = max_len
        self.device_ = device
        d, hd = int(c["hidden_size"]), self.head_dim
        q, kv = self.heads * hd, self.kv_heads * hd
        raw = load_checkpoint(model_dir)

        def take(name: str, shape: tuple[int, ...]) -> torch.Tensor:
            if name not in raw:
                raise ValueError(f"{model_dir}: tensor {name} missing from the checkpoint")
            t = raw[name]
            if tuple(t.shape) != shape:
                raise ValueError(f"{model_dir}: tensor {name}: expected shape {list(shape)}, found {list(t.shape)}")
            return t.to(device=device, dtype=dtype)

        def param(t: torch.Tensor) -> nn.Parameter:
            return nn.Parameter(t, requires_grad=False)

        self.embed = param(take("model.embed_tokens.weight", (int(c["vocab_size"]), d)))
        tied = bool(c.get("tie_word_embeddings", False)) or "lm_head.weight" not in raw
        self.lm_head = self.embed if tied else param(take("lm_head.weight", (int(c["vocab_size"]), d)))
        self.final_norm = param(take("model.norm.weight", (d,)))
        self.input_norm, self.post_norm, self.q_norm, self.k_norm = (nn.ParameterList() for _ in range(4))
        self.w_qkv, self.w_o, self.w_gate_up, self.w_down = (nn.ParameterList() for _ in range(4))
        for i in range(self.layers):
            p = f"model.layers.{i}"
            self.input_norm.append(param(take(f"{p}.input_layernorm.weight", (d,))))
            self.post_norm.append(param(take(f"{p}.post_attention_layernorm.weight", (d,))))
            self.q_norm.append(param(take(f"{p}.self_attn.q_norm.weight", (hd,))))
            self.k_norm.append(param(take(f"{p}.self_attn.k_norm.weight", (hd,))))
            self.w_qkv.append(param(torch.cat([take(f"{p}.self_attn.{n}_proj.weight", (rows, d)) for n, rows in (("q", q), ("k", kv), ("v", kv))])))
            self.w_o.append(param(take(f"{p}.self_attn.o_proj.weight", (d, q))))
            self.w_gate_up.append(param(torch.cat([take(f"{p}.mlp.{n}_proj.weight", (self.intermediate, d)) for n in ("gate", "up")])))
            self.w_down.append(param(take(f"{p}.mlp.down_proj.weight", (d, self.intermediate))))
        del raw

        # RoPE tables for every cache position, computed in f32 as transformers does, then cast.
        inv_freq = 1.0 / (rope_theta(c) ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        freqs = torch.arange(max_len, dtype=torch.float32)[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos().to(device=device, dtype=dtype), persistent=False)
        self.register_buffer("sin", emb.sin().to(device=device, dtype=dtype), persistent=False)
        self.register_buffer("key_positions", torch.arange(max_len, device=device), persistent=False)
        for i in range(self.layers):
            self.register_buffer(f"k_cache_{i}", torch.zeros(self.kv_heads, max_len, hd, device=device, dtype=dtype), persistent=False)
            self.register_buffer(f"v_cache_{i}", torch.zeros(self.kv_heads, max_len, hd, device=device, dtype=dtype), persistent=False)
        # The decode step's inputs, advanced in place by the step itself.
        self.register_buffer("last_token", torch.zeros(1, dtype=torch.long, device=device), persistent=False)
        self.register_buffer("last_position", torch.zeros(1, dtype=torch.long, device=device), persistent=False)
        self.compiled_step = None
        self.compile_secs: float | None = None
        if device.type == "cuda":
            # Static addresses: CUDA graphs neither copy these in each replay nor skip the step for
            # mutating them (the cache, last_token, last_position). guard=False: nothing to check per call.
            for t in [*self.parameters(), *self.buffers()]:
                torch._dynamo.mark_static_address(t, guard=False)
            self.compiled_step = torch.compile(self.decode_step, mode="reduce-overhead", fullgraph=True)

    def caches(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"k_cache_{i}"), getattr(self, f"v_cache_{i}")

    def forward(self, ids: torch.Tensor, positions: torch.Tensor, all_positions: bool = False) -> torch.Tensor:
        """Writes the K/V of `ids` (T tokens at `positions`) into the cache; returns the argmax id of
        the last position, or of every position when `all_positions`."""
        hd, heads, kv_heads = self.head_dim, self.heads, self.kv_heads
        group = heads // kv_heads
        t = ids.shape[0]
        h = F.embedding(ids, self.embed)  # [T, d]
        cos, sin = self.cos[positions][:, None, :], self.sin[positions][:, None, :]  # [T, 1, hd]
        mask = self.key_positions[None, :] <= positions[:, None]  # [T, max_len]: causal over the cache
        for i in range(self.layers):
            x = rms_norm(h, self.input_norm[i], self.eps)
            qkv = x @ self.w_qkv[i].T
            q, k, v = qkv.split([heads * hd, kv_heads * hd, kv_heads * hd], dim=-1)
            q = rms_norm(q.view(t, heads, hd), self.q_norm[i], self.eps)
            k = rms_norm(k.view(t, kv_heads, hd), self.k_norm[i], self.eps)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k_cache, v_cache = self.caches(i)
            k_cache.index_copy_(1, positions, k.transpose(0, 1))
            v_cache.index_copy_(1, positions, v.view(t, kv_heads, hd).transpose(0, 1))
            # GQA: query head j*group+g reads KV head j (transformers' repeat_kv order).
            qg = q.transpose(0, 1).reshape(kv_heads, group * t, hd)
            scores = (qg @ k_cache.transpose(1, 2)).float() * hd**-0.5  # [kv, group*T, max_len]
            scores = scores.view(kv_heads, group, t, self.max_len).masked_fill(~mask, float("-inf"))
            probs = torch.softmax(scores, dim=-1).to(v_cache.dtype).view(kv_heads, group * t, self.max_len)
            attn = (probs @ v_cache).view(heads, t, hd).transpose(0, 1).reshape(t, heads * hd)
            h = h + attn @ self.w_o[i].T
            x = rms_norm(h, self.post_norm[i], self.eps)
            gate, up = (x @ self.w_gate_up[i].T).split([self.intermediate, self.intermediate], dim=-1)
            h = h + (F.silu(gate) * up) @ self.w_down[i].T
        if not all_positions:
            h = h[-1:]
        logits = rms_norm(h, self.final_norm, self.eps) @ self.lm_head.T
        return logits.argmax(dim=-1)

    def decode_step(self) -> torch.Tensor:
        """One decode step from the device buffers; advances them in place, returns the new id [1]."""
        next_id = self.forward(self.last_token, self.last_position)
        self.last_token.copy_(next_id)
        self.last_position.add_(1)
        return next_id

    def synchronize(self) -> None:
        if self.device_.type == "cuda":
            torch.cuda.synchronize(self.device_)

    @torch.no_grad()  # as gpt-fast does around its compiled decode step
    def generate(self, prompt_ids: list[int], new_tokens: int) -> tuple[list[int], list[int]]:
        """Greedy ids and, for each, nanoseconds from the call to its id on the host (the protocol's
        token_times_ns). The prefill runs eagerly; decode steps run the compiled step where there is one."""
        if len(prompt_ids) + new_tokens > self.max_len:
            raise ValueError(f"prompt {len(prompt_ids)} + {new_tokens} new tokens exceed the cache ({self.max_len} positions)")
        t0 = time.perf_counter_ns()
        ids = torch.tensor(prompt_ids, dtype=torch.long, device=self.device_)
        first = self.forward(ids, torch.arange(len(prompt_ids), device=self.device_))
        self.last_token.copy_(first)
        self.last_position.fill_(len(prompt_ids))
        tokens = [int(first.item())]
        times = [time.perf_counter_ns() - t0]
        step = self.compiled_step or self.decode_step
        for _ in range(new_tokens - 1):
            if self.compiled_step is not None:
                torch.compiler.cudagraph_mark_step_begin()  # the last output is read; its memory may be reused
            tokens.append(int(step().item()))
            times.append(time.perf_counter_ns() - t0)
        return tokens, times

    @torch.no_grad()  # as gpt-fast does around its compiled decode step
    def teacher_forced_argmax(self, prompt_ids: list[int], continuation: list[int]) -> list[int]:
        """Argmax at each continuation position with the continuation fed in (the harness's `score`)."""
        seq = prompt_ids + continuation[:-1]
        ids = torch.tensor(seq, dtype=torch.long, device=self.device_)
        argmax = self.forward(ids, torch.arange(len(seq), device=self.device_), all_positions=True)
        return argmax[len(prompt_ids) - 1 :].tolist()
