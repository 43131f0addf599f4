#!/usr/bin/env python3
"""A/B two builds of clipx on the same points, interleaved call by call.

Both sides are benchmark workers (`clipx bench worker`, the protocol torch_bench.py drives); per
point each worker gets two untimed warm-up calls, then the script alternates one timed call of A and
one of B for at least --rounds rounds and --min-time seconds, and reports items/s = batch / median
latency for each and the ratio B / A. Interleaving keeps the ratio fair when the machine's load
drifts (a shared machine), which separate runs do not. Only the standard library is needed.

  git worktree add /tmp/base <commit> && (cd /tmp/base && go build -o /tmp/base/clipx ./cmd/clipx)
  go build -o build/clipx ./cmd/clipx
  python3 tools/bench/ab_workers.py --a "/tmp/base/clipx bench worker" --b "build/clipx bench worker" \\
      --models MobileCLIP-S0 --towers image --batches 1,8,32 --json ab.json
"""
import argparse
import json
import os
import sys
import time

from benchworker import Worker, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="command of worker A (the baseline)")
    ap.add_argument("--b", required=True, help="command of worker B (the change)")
    ap.add_argument("--models", default="MobileCLIP-S0")
    ap.add_argument("--towers", default="image")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--backend", default="", help="backend of both workers (default: their automatic choice)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=3.0)
    ap.add_argument("--text-length", type=int, default=7)
    ap.add_argument("--json", default="", help="write the report here (replaced atomically)")
    args = ap.parse_args()
    if args.rounds < 1 or args.min_time < 0:
        ap.error("--rounds must be at least 1 and --min-time not negative")
    try:
        batches = [int(x) for x in args.batches.split(",")]
    except ValueError:
        ap.error(f"--batches must be comma-separated integers, got {args.batches!r}")
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    report = {"mode": "ab-interleaved", "a": args.a, "b": args.b, "load_at_start": " ".join(load),
              "cores": os.cpu_count(), "rounds_min": args.rounds, "min_time_s": args.min_time, "results": []}
    wa, wb = Worker(args.a), Worker(args.b)
    rows = []
    try:
        for name in args.models.split(","):
            for w in (wa, wb):
                rep = w.ask(op="load", model=name, backend=args.backend, full_context=True)
            report["backend"] = rep["backend"]
            for tower in args.towers.split(","):
                for b in batches:
                    req = dict(op="time", tower=tower, batch=b, text_length=args.text_length)
                    for _ in range(2):
                        wa.ask(**req)
                        wb.ask(**req)
                    la, lb = [], []
                    begin = time.perf_counter()
                    while len(la) < args.rounds or time.perf_counter() - begin < args.min_time:
                        la += [v / 1e3 for v in wa.ask(**req)["lat_ms"]]
                        lb += [v / 1e3 for v in wb.ask(**req)["lat_ms"]]
                        if len(la) >= 1000:
                            break
                    r = {"model": name, "tower": tower, "batch": b, "a": summary(la, b), "b": summary(lb, b)}
                    r["ratio_b_over_a"] = r["b"]["items_per_sec"] / r["a"]["items_per_sec"]
                    report["results"].append(r)
                    rows.append(r)
                    print(json.dumps(r), file=sys.stderr, flush=True)
    finally:
        wa.close()
        wb.close()
    print(f"load at start {report['load_at_start']}, {report['cores']} cores; backend {report.get('backend', '?')}")
    print("\n| model | tower | batch | A items/s | B items/s | B / A | A p50 ms | B p50 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['tower']} | {r['batch']} | {r['a']['items_per_sec']:.2f} | "
              f"{r['b']['items_per_sec']:.2f} | **{r['ratio_b_over_a']:.2f}** | {r['a']['p50_ms']:.1f} | {r['b']['p50_ms']:.1f} |")
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump(report, f, indent=2)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
