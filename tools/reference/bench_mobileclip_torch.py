#!/usr/bin/env python3
"""PyTorch CPU throughput of MobileCLIP towers, to compare with the Go benchmarks.

Runs with the reference environment (/root/refenv) and, for MobileCLIP-S0 (whose "mct" text
tower only Apple's code has), Apple's ml-mobileclip source on PYTHONPATH. Models are randomly
initialised (the cost does not depend on the values), in eval mode, re-parameterised, under
torch.no_grad(), fp32, with torch.set_num_threads(--threads). Inputs: 256 px (224 for the ViTs)
images, and 77-token texts (the full context, which is what the non-causal MobileCLIP text
towers need; open_clip also always runs 77 for the causal ones).

    PYTHONPATH=/path/to/ml-mobileclip /root/refenv/bin/python tools/reference/bench_mobileclip_torch.py \\
        --models MobileCLIP-S0,MobileCLIP-S2 --batches 1,8,32

Prints one line per (model, tower, batch): the median seconds per call over the timed calls and
the throughput (images/s or texts/s). With --interleave N, the models are instead measured
round-robin, one call each per round for N rounds at the first batch size (ratios of interleaved
measurements are steadier on a machine whose load drifts); each line then gives the mean.
"""
import argparse
import statistics
import time

import torch

import open_clip
from timm.utils.model import reparameterize_model


def build(name):
    """Returns (encode_image, encode_text, image_size) for a randomly initialised model."""
    if name == "MobileCLIP-S0":
        import mobileclip  # Apple's code: the only implementation of the S0 text tower

        model, _, _ = mobileclip.create_model_and_transforms("mobileclip_s0", pretrained=None, reparameterize=True)
        return model.encode_image, model.encode_text, 256
    model = open_clip.create_model(name, pretrained=None)
    model = reparameterize_model(model.eval())  # folds MobileOne / RepMixer / RepCPE branches
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    return model.encode_image, model.encode_text, size


def timed(fn, arg, min_seconds, min_calls):
    with torch.no_grad():
        fn(arg)  # warm-up
        times = []
        start = time.perf_counter()
        while len(times) < min_calls or time.perf_counter() - start < min_seconds:
            t = time.perf_counter()
            fn(arg)
            times.append(time.perf_counter() - t)
    return statistics.median(times), len(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="MobileCLIP-S0,MobileCLIP-S2")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--towers", default="image,text")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-seconds", type=float, default=3.0)
    ap.add_argument("--min-calls", type=int, default=3)
    ap.add_argument("--interleave", type=int, default=0, help="rounds of round-robin measurement")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.interleave:
        interleaved(args)
        return
    for name in args.models.split(","):
        encode_image, encode_text, size = build(name)
        for batch in (int(b) for b in args.batches.split(",")):
            if "image" in args.towers:
                pixels = torch.rand(batch, 3, size, size)
                sec, n = timed(encode_image, pixels, args.min_seconds, args.min_calls)
                print(f"{name} image batch={batch}: {sec * 1e3:.1f} ms/call ({n} calls), {batch / sec:.2f} images/s", flush=True)
            if "text" in args.towers:
                ids = torch.zeros(batch, 77, dtype=torch.long)
                ids[:, 0], ids[:, 1:6], ids[:, 6] = 49406, 320, 49407
                sec, n = timed(encode_text, ids, args.min_seconds, args.min_calls)
                print(f"{name} text batch={batch}: {sec * 1e3:.1f} ms/call ({n} calls), {batch / sec:.2f} texts/s", flush=True)


def interleaved(args):
    batch = int(args.batches.split(",")[0])
    models = {}
    for name in args.models.split(","):
        encode_image, encode_text, size = build(name)
        pixels = torch.rand(batch, 3, size, size)
        ids = torch.zeros(batch, 77, dtype=torch.long)
        ids[:, 0], ids[:, 1:6], ids[:, 6] = 49406, 320, 49407
        with torch.no_grad():
            encode_image(pixels), encode_text(ids)  # warm-up
        models[name] = (encode_image, encode_text, pixels, ids, [0.0, 0.0])
    with torch.no_grad():
        for _ in range(args.interleave):
            for encode_image, encode_text, pixels, ids, acc in models.values():
                t = time.perf_counter()
                encode_image(pixels)
                acc[0] += time.perf_counter() - t
                t = time.perf_counter()
                encode_text(ids)
                acc[1] += time.perf_counter() - t
    for name, (_, _, _, _, acc) in models.items():
        n = batch * args.interleave
        print(f"{name} interleaved batch={batch}: {n / acc[0]:.3f} images/s, {n / acc[1]:.3f} texts/s", flush=True)


if __name__ == "__main__":
    main()
