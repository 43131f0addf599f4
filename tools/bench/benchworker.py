"""The client side of `clipx bench worker` (JSON lines on stdin/stdout), and the latency summary
both benchmark drivers report. Only the standard library: ab_workers.py runs without torch.

The worker's protocol is cmd/clipx/benchworker.go; torch_bench.py and ab_workers.py import this.
"""

import json
import math
import shlex
import statistics
import subprocess


class Worker:
    """One clipx benchmark worker (`clipx bench worker`), driven over JSON lines."""

    def __init__(self, cmd):
        self.cmd = cmd
        self.p = subprocess.Popen(shlex.split(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **req):
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.cmd!r} exited (status {self.p.wait()}) on {req}")
        rep = json.loads(line)
        if not rep.get("ok"):
            raise RuntimeError(f"worker {self.cmd!r}: {rep.get('error')} (request {req})")
        return rep

    def close(self):
        try:
            self.ask(op="quit")
        finally:
            self.p.wait(timeout=60)


def summary(lat_s, batch):
    """items/s = batch / median latency, with p50/p95 in ms, from latencies in seconds."""
    lat = sorted(lat_s)
    med = statistics.median(lat)
    p95 = lat[min(max(math.ceil(0.95 * len(lat)) - 1, 0), len(lat) - 1)]
    return {"items_per_sec": batch / med, "p50_ms": med * 1e3, "p95_ms": p95 * 1e3, "iters": len(lat)}
