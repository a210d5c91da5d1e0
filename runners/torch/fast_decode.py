"""Greedy decode over fast_model.Qwen3's static cache: the `torch-fast` runner's generation loop.

The decode step is the model on one token read from device buffers (the last token and its
position), which the step advances in place; argmax runs on the device and only the id is read back
(`.item()`), as runners/PROTOCOL.md asks. Where it is compiled is decided once, when the decoder is
built: on CUDA with torch.compile(mode="reduce-overhead", fullgraph=True), i.e. replayed as one
CUDA graph (gpt-fast's recipe); on the CPU and MPS it runs eagerly, so conformance and goldens run
wherever torch does.

The cache holds `capacity` positions and every step attends all of them under a mask (as
transformers' static cache does): a request longer than the capacity builds a new decoder with the
next multiple of CAPACITY_STEP positions (the compiled step is traced again for the new shapes).
A prompt (or scored sequence) longer than PREFILL_CHUNK runs in chunks of that many positions, each
attending to the cache written so far: its attention scores are chunk × capacity, not prompt² (at
32,768 positions one unchunked layer's f32 scores alone would be 69 GB).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from fast_model import DEFAULT_ATTENTION, ModelArgs, Qwen3, load_weights

CAPACITY_STEP = 1024
PREFILL_CHUNK = 1024


class StaticDecoder:
    def __init__(self, model_dir: Path, dtype: torch.dtype, device: torch.device, capacity: int, attention: str = DEFAULT_ATTENTION) -> None:
        self.device = device
        args = ModelArgs.from_config(model_dir / "config.json")
        model = Qwen3(args, capacity, attention)
        load_weights(model, model_dir)
        self.model = model.to(device=device, dtype=dtype).eval()
        self.last_token = torch.zeros(1, dtype=torch.long, device=device)
        self.last_position = torch.zeros(1, dtype=torch.long, device=device)
        self.compiled = device.type == "cuda"
        self.step = self.decode_step
        if self.compiled:
            # Static addresses: CUDA graphs neither copy these in each replay nor skip the step for
            # mutating them (the cache, last_token, last_position). guard=False: nothing to check per call.
            for t in [*self.model.parameters(), *self.model.buffers(), self.last_token, self.last_position]:
                torch._dynamo.mark_static_address(t, guard=False)
            torch._dynamo.reset()  # a decoder built for a larger capacity traces its step anew
            self.step = torch.compile(self.decode_step, mode="reduce-overhead", fullgraph=True)

    @property
    def capacity(self) -> int:
        return self.model.capacity

    def decode_step(self) -> torch.Tensor:
        """One decode step from the device buffers; advances them in place, returns the new id [1]."""
        h = self.model(self.last_token, self.last_position)
        next_id = self.model.logits(h).argmax(dim=-1)
        self.last_token.copy_(next_id)
        self.last_position.add_(1)
        return next_id

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def forward_chunked(self, ids: list[int], keep_from: int) -> torch.Tensor:
        """The model over `ids` (positions 0..), PREFILL_CHUNK positions at a time; the final hidden
        states of positions keep_from.. ."""
        seq = torch.tensor(ids, dtype=torch.long, device=self.device)
        kept = []
        for start in range(0, len(ids), PREFILL_CHUNK):
            end = min(start + PREFILL_CHUNK, len(ids))
            h = self.model(seq[start:end], torch.arange(start, end, device=self.device))
            if end > keep_from:
                kept.append(h[max(keep_from - start, 0) :])
        return torch.cat(kept)

    @torch.no_grad()  # as gpt-fast does around its compiled decode step
    def generate(self, prompt_ids: list[int], new_tokens: int, t0_ns: int) -> tuple[list[int], list[int]]:
        """Greedy ids and, for each, nanoseconds from t0_ns to its id on the host. The prefill runs
        eagerly; decode steps run the compiled step where there is one."""
        h = self.forward_chunked(prompt_ids, len(prompt_ids) - 1)
        first = self.model.logits(h).argmax(dim=-1)
        self.last_token.copy_(first)
        self.last_position.fill_(len(prompt_ids))
        tokens = [int(first.item())]
        times = [time.perf_counter_ns() - t0_ns]
        for _ in range(new_tokens - 1):
            if self.compiled:
                torch.compiler.cudagraph_mark_step_begin()  # the last output is read; its memory may be reused
            tokens.append(int(self.step().item()))
            times.append(time.perf_counter_ns() - t0_ns)
        return tokens, times

    @torch.no_grad()
    def score(self, prompt_ids: list[int], continuation_ids: list[int]) -> torch.Tensor:
        """f32 logits at each continuation position with the continuation fed in (teacher forcing)."""
        h = self.forward_chunked(prompt_ids + continuation_ids[:-1], len(prompt_ids) - 1)
        return self.model.logits(h).float()


class FastQwen3:
    """A StaticDecoder whose capacity grows to what a request needs (multiples of CAPACITY_STEP)."""

    def __init__(self, model_dir: str, dtype: torch.dtype, device: torch.device, max_positions: int, attention: str = DEFAULT_ATTENTION) -> None:
        self.model_dir, self.dtype, self.device, self.max_positions = Path(model_dir), dtype, device, max_positions
        self.attention = attention
        self.decoder = self.build(CAPACITY_STEP)

    def build(self, needed: int) -> StaticDecoder:
        capacity = min(self.max_positions, -(-needed // CAPACITY_STEP) * CAPACITY_STEP)
        return StaticDecoder(self.model_dir, self.dtype, self.device, capacity, self.attention)

    def fit(self, positions: int) -> StaticDecoder:
        if positions > self.decoder.capacity:
            del self.decoder
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self.decoder = self.build(positions)
        return self.decoder

    def generate(self, prompt_ids: list[int], new_tokens: int, t0_ns: int) -> tuple[list[int], list[int]]:
        return self.fit(len(prompt_ids) + new_tokens).generate(prompt_ids, new_tokens, t0_ns)

    def score(self, prompt_ids: list[int], continuation_ids: list[int]) -> torch.Tensor:
        return self.fit(len(prompt_ids) + len(continuation_ids)).score(prompt_ids, continuation_ids)
