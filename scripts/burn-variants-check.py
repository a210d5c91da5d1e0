#!/usr/bin/env python3
"""Burn runner variants side by side on a GPU host without Node: each variant's `--self-bench`
(the runner's own timing loop after its load, warm-up and decode check; no protocol), its decode
tok/s per run, and whether the variants' greedy tokens agree with the first variant's.

    python3 scripts/burn-variants-check.py BINARY MODEL_DIR

The variants are `--kernels gemv` and `--kernels custom` (this file's VARIANTS), 28 prompt tokens
(ids 0..27), 128 new tokens, 5 runs each. On the H200 of 2026-11-29 it measured the RMSNorm kernel
(docs/results/h200-2026-11-29b/rmsnorm-kernel/). For numbers to publish beside other frameworks,
run the harness (`burn-cuda[kernels=custom]`); this is for a lease too short to carry Node.
"""
import json, subprocess, sys
B, M = sys.argv[1], sys.argv[2]
res = {}
VARIANTS = ["gemv", "custom"]
for v in VARIANTS:
    r = subprocess.run([B, "--model", M, "--dtype", "f16", "--backend", "cuda", "--kernels", v, "--self-bench", "28,128,5"], capture_output=True, text=True, timeout=170)
    runs = [json.loads(l) for l in r.stdout.splitlines() if '"self_bench"' in l]
    res[v] = runs
    ready = next((json.loads(l) for l in r.stdout.splitlines() if '"ready"' in l), {})
    print(v, "exit", r.returncode, "load_ms", round(ready.get("load_time_ms", 0)), "tps", [round(x["decode_tps"], 1) for x in runs], "" if r.returncode == 0 else (r.stdout + r.stderr)[-600:], flush=True)
a = res["gemv"][0]["token_ids"] if res["gemv"] else []
b = res["custom"][0]["token_ids"] if res["custom"] else []
print("custom vs gemv tokens: first divergence", next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None), "of", min(len(a), len(b)))
print("gemv", a[:40]); print("custom", b[:40])
