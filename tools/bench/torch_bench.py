#!/usr/bin/env python3
"""The PyTorch reference side of `clipx bench models`: the same models (randomly initialised open_clip
models of the real architectures), towers, batch sizes and precisions, timed the same way, written as
the same JSON (a "results" list of {model, tower, batch, precision, items_per_sec, p50_ms, p95_ms, ...}).

  python tools/bench/torch_bench.py --models ViT-B-32,RN50 --batches 1,8,32 --json torch.json
  python tools/bench/torch_bench.py --device cuda --precisions f32,f16 ...

Text prompts have the same length as clipx's (--text-length real tokens between SOT and EOT); PyTorch
runs the full 77-token context, as open_clip does. Model names may be given in clipkit's spelling
(ViT-B/32) or open_clip's (ViT-B-32). It installs nothing: it needs torch and open_clip_torch.
"""
import argparse
import json
import math
import os
import platform
import statistics
import time

import torch
import open_clip

ALIASES = {"ViT-B/32": "ViT-B-32", "ViT-B/16": "ViT-B-16", "ViT-L/14": "ViT-L-14", "ViT-L/14@336px": "ViT-L-14-336"}


def machine(device):
    name = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    desc = f"{name}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    if device == "cuda":
        desc += f", {torch.cuda.get_device_name(0)}"
    return desc


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def timed(call, device, min_iters, min_time):
    sync(device)
    t0 = time.perf_counter()
    call()
    sync(device)
    first = time.perf_counter() - t0
    lat = []
    begin = time.perf_counter()
    while len(lat) < min_iters or time.perf_counter() - begin < min_time:
        t0 = time.perf_counter()
        call()
        sync(device)
        lat.append(time.perf_counter() - t0)
        if len(lat) >= 10000:
            break
    lat.sort()
    pct = lambda p: lat[min(max(math.ceil(p * len(lat)) - 1, 0), len(lat) - 1)]
    return first, lat, pct(0.5), pct(0.95)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="ViT-B-32")
    ap.add_argument("--towers", default="image,text")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--precisions", default="f32")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--min-iters", type=int, default=3)
    ap.add_argument("--text-length", type=int, default=7)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = args.device
    report = {"backend": f"pytorch {dev}", "machine": machine(dev), "results": []}
    for name in args.models.split(","):
        oc_name = ALIASES.get(name, name)
        for prec in args.precisions.split(","):
            dtype = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[prec]
            torch.manual_seed(0)
            model = open_clip.create_model(oc_name, pretrained=None, force_quick_gelu=True).eval().to(dev)
            if dtype != torch.float32:
                model = model.to(dtype)
            res = model.visual.image_size
            res = res[0] if isinstance(res, (tuple, list)) else res
            for tower in args.towers.split(","):
                for b in [int(x) for x in args.batches.split(",")]:
                    r = {"model": name, "tower": tower, "batch": b, "precision": prec}
                    try:
                        with torch.inference_mode():
                            if tower == "image":
                                x = torch.randn(b, 3, res, res, device=dev, dtype=dtype)
                                call = lambda: model.encode_image(x, normalize=True)
                            else:
                                ids = torch.zeros(b, 77, dtype=torch.long, device=dev)
                                ids[:, 0] = 49406
                                ids[:, 1:1 + args.text_length] = torch.arange(320, 320 + args.text_length, device=dev)
                                ids[:, 1 + args.text_length] = 49407
                                r["text_length"] = 77
                                call = lambda: model.encode_text(ids, normalize=True)
                            first, lat, p50, p95 = timed(call, dev, args.min_iters, args.min_time)
                        r.update(items_per_sec=b * len(lat) / sum(lat), p50_ms=p50 * 1e3, p95_ms=p95 * 1e3,
                                 iters=len(lat), first_call_ms=first * 1e3)
                    except Exception as e:  # report and go on (e.g. fp16 on CPU)
                        r["error"] = f"{type(e).__name__}: {e}"[:300]
                    report["results"].append(r)
                    print(json.dumps(r), flush=True)
            del model
            if dev == "cuda":
                torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
