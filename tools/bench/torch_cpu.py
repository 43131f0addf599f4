"""Times PyTorch CPU (float32, inference mode) on the workloads of tools/bench/cpubench.

Prints one JSON object per workload on stdout: workload, first_ms, best_ms, median_ms, torch,
threads. Run it through `go run ./tools/bench/cpubench -torch /root/refenv/bin/python`, which
passes the same shapes it gives GoMLX. Installs nothing: it needs a Python with torch.

The block is an open_clip/OpenAI CLIP ResidualAttentionBlock written with the same modules those
projects use (LayerNorm, nn.MultiheadAttention with a fused in_proj, Linear-GELU-Linear MLP).
"""

import argparse
import json
import time

import torch
from torch import nn


class Block(nn.Module):
    """Pre-LN CLIP transformer block: x + attn(ln_1(x)); x + mlp(ln_2(x))."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


def time_calls(fn, iters):
    start = time.perf_counter()
    fn()
    first = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return first, times[0], times[len(times) // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    for name, default in [("m", 768), ("k", 768), ("n", 3072), ("batch", 1), ("tokens", 197),
                          ("width", 768), ("heads", 12), ("iters", 5)]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--workloads", default="matmul,block")
    a = p.parse_args()
    torch.manual_seed(0)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    with torch.inference_mode():
        for workload in a.workloads.split(","):
            if workload == "matmul":
                x = torch.randn(a.m, a.k)
                y = torch.randn(a.k, a.n)
                fn = lambda: torch.matmul(x, y)  # noqa: E731
            elif workload == "block":
                block = Block(a.width, a.heads).eval()
                x = torch.randn(a.batch, a.tokens, a.width)
                fn = lambda: block(x)  # noqa: E731
            else:
                raise SystemExit(f"unknown workload {workload!r} (want matmul or block)")
            first, best, median = time_calls(fn, a.iters)
            print(json.dumps({"workload": workload, "first_ms": first, "best_ms": best,
                              "median_ms": median, **info}), flush=True)


if __name__ == "__main__":
    main()
