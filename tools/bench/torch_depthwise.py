#!/usr/bin/env python3
"""PyTorch's depthwise convolutions on the shapes of BenchmarkDepthwiseShapes (MCi0's first three
stages at 256x256 input, batch 8): torch.nn.Conv2d(C, C, k, padding=k//2, groups=C), NCHW,
torch.inference_mode(), as many threads as the machine has cores; median of 20 calls after 3
warm-up calls, in ms.

    /root/refenv/bin/python tools/bench/torch_depthwise.py
"""
import os
import time

import torch


def main():
    torch.set_num_threads(os.cpu_count())
    batch = 8
    for c, hw, k in ((64, 64, 3), (64, 64, 7), (128, 32, 3), (128, 32, 7), (256, 16, 3), (256, 16, 7)):
        conv = torch.nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False)
        x = torch.randn(batch, c, hw, hw)
        times = []
        with torch.inference_mode():
            for _ in range(3):
                conv(x)
            for _ in range(20):
                t = time.perf_counter()
                conv(x)
                times.append(time.perf_counter() - t)
        times.sort()
        print(f"c{c}_{hw}x{hw}_k{k}_batch{batch}: {times[len(times) // 2] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
