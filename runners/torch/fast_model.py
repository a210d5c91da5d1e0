"""Qwen3 in plain PyTorch for batch-1 greedy decode, written for speed (the `torch-fast` runner).

Read beside mlx-lm's `mlx_lm/models/qwen3.py`: `ModelArgs` mirrors config.json, then `Attention`,
`MLP`, `TransformerBlock` and `Qwen3`, each the architecture as drawn (project, q/k RMSNorm per
head, RoPE at the token's position, attention over the cache, output projection; SwiGLU).
Numerics follow transformers' Qwen3 (RMSNorm in f32 then weight × x in the run dtype, rotate-half
RoPE with cos/sin computed in f32 then cast, GQA in repeat_kv order), so f32 on the CPU gives
transformers' tokens exactly (the goldens check it).

What differs from transformers, for speed: q/k/v and gate/up are one matrix each (fused when the
checkpoint is loaded; `load_weights` maps the checkpoint's names), and the KV cache is static (a
fixed number of positions, zeros, attended whole with a causal mask over positions), so every
decode step has the same shapes and can be captured as one CUDA graph (fast_decode.py). The
generation loop and the cache's capacity live in fast_decode.py.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelArgs:
    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    rms_norm_eps: float
    vocab_size: int
    max_position_embeddings: int
    head_dim: int | None = None
    rope_theta: float | None = None
    rope_parameters: dict | None = None
    rope_scaling: dict | None = None
    tie_word_embeddings: bool = False

    @classmethod
    def from_config(cls, path: Path) -> "ModelArgs":
        config = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in config]
        if missing:
            raise ValueError(f"{path}: field {missing[0]} missing")
        args = cls(**{k: v for k, v in config.items() if k in known})
        if (args.rope_scaling or {}).get("rope_type", "default") != "default":
            raise ValueError(f"{path}: field rope_scaling: only default RoPE is implemented, got {args.rope_scaling}")
        return args

    @property
    def dim_per_head(self) -> int:
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @property
    def theta(self) -> float:
        """rope_theta at the top level (transformers 4.x configs) or under rope_parameters (5.x)."""
        if self.rope_theta is not None:
            return float(self.rope_theta)
        return float((self.rope_parameters or {}).get("rope_theta", 10000.0))


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' Qwen3RMSNorm: normalise in f32, cast back, then scale in the run dtype."""
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return weight * xf.to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def frozen(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.empty(*shape), requires_grad=False)


def attend_explicit(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """softmax(QKᵀ/√d)V written out, scores and softmax in f32 (transformers' eager attention), the
    query heads that share a KV head stacked (transformers' repeat_kv order: query head j*group+g
    reads KV head j). q [T, heads, d], keys/values [kv_heads, capacity, d], mask [T, capacity];
    returns [T, heads*d]."""
    t, heads, hd = q.shape
    kv_heads, capacity = keys.shape[0], keys.shape[1]
    group = heads // kv_heads
    qg = q.transpose(0, 1).reshape(kv_heads, group * t, hd)
    scores = (qg @ keys.transpose(1, 2)).float() * hd**-0.5  # [kv, group*T, capacity]
    scores = scores.view(kv_heads, group, t, capacity).masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1).to(values.dtype).view(kv_heads, group * t, capacity)
    return (probs @ values).view(heads, t, hd).transpose(0, 1).reshape(t, heads * hd)


def attend_sdpa(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The same through torch's scaled_dot_product_attention (its fused kernels where one takes a
    boolean mask, as gpt-fast calls it over a static cache), the grouped KV heads read in the call
    (enable_gqa: query head h reads KV head h // group, repeat_kv's order). Shapes as attend_explicit."""
    out = F.scaled_dot_product_attention(q.transpose(0, 1)[None], keys[None], values[None], attn_mask=mask[None, None], enable_gqa=True)
    return out[0].transpose(0, 1).reshape(q.shape[0], -1)


# `--attention`: the attention body, chosen once when the model is built; DEFAULT_ATTENTION unless a
# label says otherwise.
ATTENTION = {"explicit": attend_explicit, "sdpa": attend_sdpa}
DEFAULT_ATTENTION = "explicit"


class Attention(nn.Module):
    def __init__(self, args: ModelArgs, attend) -> None:
        super().__init__()
        self.attend = attend
        self.heads, self.kv_heads, self.head_dim = args.num_attention_heads, args.num_key_value_heads, args.dim_per_head
        self.eps = args.rms_norm_eps
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        self.qkv_proj = frozen(q + 2 * kv, args.hidden_size)
        self.o_proj = frozen(args.hidden_size, q)
        self.q_norm = frozen(self.head_dim)
        self.k_norm = frozen(self.head_dim)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], cache: tuple[torch.Tensor, torch.Tensor],
                positions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        t, hd, heads, kv_heads = x.shape[0], self.head_dim, self.heads, self.kv_heads
        q, k, v = (x @ self.qkv_proj.T).split([heads * hd, kv_heads * hd, kv_heads * hd], dim=-1)
        q = rms_norm(q.view(t, heads, hd), self.q_norm, self.eps)
        k = rms_norm(k.view(t, kv_heads, hd), self.k_norm, self.eps)
        cos, sin = rope
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        keys, values = cache
        keys.index_copy_(1, positions, k.transpose(0, 1))
        values.index_copy_(1, positions, v.view(t, kv_heads, hd).transpose(0, 1))
        return self.attend(q, keys, values, mask) @ self.o_proj.T


class MLP(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.intermediate = args.intermediate_size
        self.gate_up_proj = frozen(2 * args.intermediate_size, args.hidden_size)
        self.down_proj = frozen(args.hidden_size, args.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = (x @ self.gate_up_proj.T).split([self.intermediate, self.intermediate], dim=-1)
        return (F.silu(gate) * up) @ self.down_proj.T


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs, attend) -> None:
        super().__init__()
        self.eps = args.rms_norm_eps
        self.self_attn = Attention(args, attend)
        self.mlp = MLP(args)
        self.input_layernorm = frozen(args.hidden_size)
        self.post_attention_layernorm = frozen(args.hidden_size)

    def forward(self, h: torch.Tensor, rope, cache, positions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = h + self.self_attn(rms_norm(h, self.input_layernorm, self.eps), rope, cache, positions, mask)
        return h + self.mlp(rms_norm(h, self.post_attention_layernorm, self.eps))


class Qwen3(nn.Module):
    """The decoder over a static KV cache of `capacity` positions (buffers, zeros), attending with
    `attention` (a key of ATTENTION)."""

    def __init__(self, args: ModelArgs, capacity: int, attention: str = DEFAULT_ATTENTION) -> None:
        super().__init__()
        self.args = args
        self.embed_tokens = frozen(args.vocab_size, args.hidden_size)
        self.layers = nn.ModuleList(TransformerBlock(args, ATTENTION[attention]) for _ in range(args.num_hidden_layers))
        self.norm = frozen(args.hidden_size)
        self.lm_head = self.embed_tokens if args.tie_word_embeddings else frozen(args.vocab_size, args.hidden_size)
        hd = args.dim_per_head
        # RoPE tables for every cache position, in f32 as transformers computes them (cast in `to_run_dtype`).
        inv_freq = 1.0 / (args.theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        angles = torch.arange(capacity, dtype=torch.float32)[:, None] * inv_freq[None, :]
        angles = torch.cat((angles, angles), dim=-1)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)
        self.register_buffer("key_positions", torch.arange(capacity), persistent=False)
        for i in range(args.num_hidden_layers):
            self.register_buffer(f"keys_{i}", torch.zeros(args.num_key_value_heads, capacity, hd), persistent=False)
            self.register_buffer(f"values_{i}", torch.zeros(args.num_key_value_heads, capacity, hd), persistent=False)

    @property
    def capacity(self) -> int:
        return self.key_positions.shape[0]

    def forward(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Writes the K/V of `ids` (T tokens at `positions`) into the cache; returns the final hidden states [T, d]."""
        h = F.embedding(ids, self.embed_tokens)
        rope = (self.cos[positions][:, None, :], self.sin[positions][:, None, :])
        mask = self.key_positions[None, :] <= positions[:, None]  # [T, capacity]: causal over the cache
        for i, layer in enumerate(self.layers):
            h = layer(h, rope, (getattr(self, f"keys_{i}"), getattr(self, f"values_{i}")), positions, mask)
        return rms_norm(h, self.norm, self.args.rms_norm_eps)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.lm_head.T


def checkpoint_files(model_dir: Path) -> list[str]:
    """The checkpoint's safetensors files: the shards its index names, or model.safetensors."""
    index = model_dir / "model.safetensors.index.json"
    return sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]


def read_checkpoint(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for name in checkpoint_files(model_dir):
        tensors.update(load_file(str(model_dir / name), device="cpu"))
    return tensors


def load_weights(model: Qwen3, model_dir: Path) -> None:
    """The checkpoint's tensors into the model: names map one to one, except q/k/v and gate/up,
    concatenated into qkv_proj and gate_up_proj. A missing tensor or a wrong shape names the tensor."""
    raw = read_checkpoint(model_dir)
    if "lm_head.weight" not in raw and not model.args.tie_word_embeddings:
        raise ValueError(f"{model_dir}: tensor lm_head.weight missing from the checkpoint (and tie_word_embeddings is false)")

    def take(name: str) -> torch.Tensor:
        if name not in raw:
            raise ValueError(f"{model_dir}: tensor {name} missing from the checkpoint")
        return raw[name]

    fused = {"self_attn.qkv_proj": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"), "mlp.gate_up_proj": ("mlp.gate_proj", "mlp.up_proj")}
    for name, param in model.named_parameters():
        parts = name.split(".")
        if parts[0] == "layers":
            layer, rest = f"model.layers.{parts[1]}", ".".join(parts[2:])
            sources = fused.get(rest)
            tensor = torch.cat([take(f"{layer}.{s}.weight") for s in sources]) if sources else take(f"{layer}.{rest}" + ("" if rest.endswith("weight") else ".weight"))
        else:
            tensor = take({"embed_tokens": "model.embed_tokens.weight", "norm": "model.norm.weight", "lm_head": "lm_head.weight"}[name])
        if tuple(tensor.shape) != tuple(param.shape):
            raise ValueError(f"{model_dir}: tensor for {name}: expected shape {list(param.shape)}, found {list(tensor.shape)}")
        param.data = tensor
