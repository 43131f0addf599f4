#!/usr/bin/env python3
"""The PyTorch reference side of `clipx bench models`: the same models (randomly initialised open_clip
models of the real architectures), towers, batch sizes and precisions, timed the same way, written as
the same JSON (a "results" list of {model, tower, batch, precision, items_per_sec, p50_ms, p95_ms, ...}).

  python tools/bench/torch_bench.py --models ViT-B-32,RN50 --batches 1,8,32 --json torch.json
  python tools/bench/torch_bench.py --device cuda --precisions f32,f16 ...

Interleaved with clipx (what tools/bench/bench-cpu.sh runs): with --interleave-with "clipx bench worker"
it starts our benchmark worker and measures each point round-robin, one call of ours then one of
PyTorch per round (our process waits on its input while PyTorch runs, and the other way round), for
at least --rounds rounds and --min-time seconds, after two untimed warm-up calls each. Items/s are
batch / median latency. Text runs the full 77-token context on both sides. It writes a JSON with
both sides per point and prints the ratio table (ours / PyTorch).

  python tools/bench/torch_bench.py --interleave-with "build/clipx bench worker" \
      --backend xla:cpu --models ViT-B/32,RN50,MobileCLIP-S0 --json interleaved.json

MobileCLIP-S0's "mct" text tower exists only in Apple's ml-mobileclip code: put its source on
PYTHONPATH (or MOBILECLIP_SRC); the other MobileCLIP models come from open_clip, re-parameterised.

Text prompts have the same length as clipx's (--text-length real tokens between SOT and EOT); PyTorch
runs the full 77-token context, as open_clip does. Model names may be given in clipkit's spelling
(ViT-B/32) or open_clip's (ViT-B-32). It installs nothing: it needs torch and open_clip_torch.
"""
import argparse
import json
import math
import os
import platform
import sys
import time

import torch
import open_clip

from benchworker import Worker, summary

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
    ap.add_argument("--interleave-with", default="", help="command of our benchmark worker (clipx bench worker)")
    ap.add_argument("--backend", default="", help="our backend, with --interleave-with (default: its automatic choice)")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds per point, at least")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.interleave_with:
        return interleaved(args)
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


def build_model(name, dev):
    """Returns (encode_image, encode_text, image_size) of a randomly initialised model in eval mode."""
    torch.manual_seed(0)
    if name == "MobileCLIP-S0":
        src = os.environ.get("MOBILECLIP_SRC")
        if src and src not in sys.path:
            sys.path.insert(0, src)
        import mobileclip  # Apple's code: the only implementation of the S0 "mct" text tower

        model, _, _ = mobileclip.create_model_and_transforms("mobileclip_s0", pretrained=None, reparameterize=True)
        model = model.eval().to(dev)
        enc_i = lambda x: model.encode_image(x, normalize=True)
        enc_t = lambda t: model.encode_text(t, normalize=True)
        return enc_i, enc_t, 256
    oc_name = ALIASES.get(name, name)
    if name.startswith("MobileCLIP"):
        from timm.utils.model import reparameterize_model

        model = reparameterize_model(open_clip.create_model(oc_name, pretrained=None).eval()).to(dev)
    else:
        model = open_clip.create_model(oc_name, pretrained=None, force_quick_gelu=True).eval().to(dev)
    res = model.visual.image_size
    res = res[0] if isinstance(res, (tuple, list)) else res
    return (lambda x: model.encode_image(x, normalize=True)), (lambda t: model.encode_text(t, normalize=True)), res


def interleaved(args):
    dev = args.device
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    report = {"mode": "interleaved", "machine": machine(dev), "load_at_start": " ".join(load),
              "rounds_min": args.rounds, "min_time_s": args.min_time, "results": []}
    worker = Worker(args.interleave_with)
    try:
        for name in args.models.split(","):
            rep = worker.ask(op="load", model=name, backend=args.backend, full_context=True)
            report["ours_backend"], report["ours_machine"] = rep["backend"], rep["machine"]
            try:
                enc_i, enc_t, res = build_model(name, dev)
            except Exception as e:  # e.g. Apple's code missing for MobileCLIP-S0
                print(f"torch_bench: {name}: PyTorch side unavailable: {type(e).__name__}: {e}", file=sys.stderr)
                report["results"].append({"model": name, "error": f"PyTorch side: {type(e).__name__}: {e}"[:300]})
                continue
            for tower in args.towers.split(","):
                for b in [int(x) for x in args.batches.split(",")]:
                    with torch.inference_mode():
                        if tower == "image":
                            x = torch.randn(b, 3, res, res, device=dev)
                            call = lambda: enc_i(x)
                        else:
                            ids = torch.zeros(b, 77, dtype=torch.long, device=dev)
                            ids[:, 0] = 49406
                            ids[:, 1:1 + args.text_length] = torch.arange(320, 320 + args.text_length, device=dev)
                            ids[:, 1 + args.text_length] = 49407
                            call = lambda: enc_t(ids)
                        for _ in range(2):  # warm-up (ours compiles on its first call)
                            worker.ask(op="time", tower=tower, batch=b, text_length=args.text_length)
                            call()
                        ours, theirs = [], []
                        begin = time.perf_counter()
                        while len(ours) < args.rounds or time.perf_counter() - begin < args.min_time:
                            rep = worker.ask(op="time", tower=tower, batch=b, text_length=args.text_length)
                            ours += [v / 1e3 for v in rep["lat_ms"]]
                            sync(dev)
                            t0 = time.perf_counter()
                            call()
                            sync(dev)
                            theirs.append(time.perf_counter() - t0)
                            if len(ours) >= 1000:
                                break
                    r = {"model": name, "tower": tower, "batch": b, "ours": summary(ours, b), "torch": summary(theirs, b)}
                    if tower == "text":
                        r["text_length"] = rep.get("text_length", 77)
                    r["ratio"] = r["ours"]["items_per_sec"] / r["torch"]["items_per_sec"]
                    report["results"].append(r)
                    print(json.dumps(r), flush=True)
    finally:
        worker.close()
    print(ratio_table(report))
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump(report, f, indent=2)
        os.replace(args.json + ".tmp", args.json)


def ratio_table(report):
    lines = [f"machine: {report['machine']}; load at start {report['load_at_start']}",
             f"ours: {report.get('ours_backend', '?')}",
             "", "| model | tower | batch | ours items/s | PyTorch items/s | ratio | ours p50 ms | PyTorch p50 ms |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['model']} | — | — | not measured: {r['error']} | | | | |")
            continue
        o, t = r["ours"], r["torch"]
        lines.append(f"| {r['model']} | {r['tower']} | {r['batch']} | {o['items_per_sec']:.2f} | {t['items_per_sec']:.2f} | "
                     f"**{r['ratio']:.2f}** | {o['p50_ms']:.1f} | {t['p50_ms']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
