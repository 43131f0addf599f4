#!/usr/bin/env python3
"""Reference numbers for cliplib/search: hnswlib, numpy and faiss on the same vectors.

Runs with the system python3 after
    apt-get install python3-hnswlib python3-faiss python3-numpy python3-threadpoolctl libopenblas0-pthread
and reads the raw little-endian float32 files written by
    go run ./cmd/clipx bench search --dump DIR ...
(base: N x dim rows; queries: Q x dim rows). Prints one JSON object (or writes --out):
  * numpy brute force (X @ q + argpartition), single query with 2 and 1 BLAS threads, and batched;
  * faiss IndexFlatIP, single query and batched;
  * hnswlib (space "ip", same M / ef_construction as the Go run), build time with --threads
    threads, recall@k against the exact answer and single-query latency (1 thread) per ef.
Every timing is given as wall clock and as process CPU time (time.process_time), the latter being
what an operation costs when other processes compete for the cores.
Which BLAS kernel ran is recorded from threadpoolctl (OpenBLAS 0.3.21 auto-detects this CPU as
"Prescott"; set OPENBLAS_CORETYPE=SkylakeX in the command to get its AVX-512 kernels).
Installs nothing and reads nothing from the network.
"""
import argparse
import json
import os
import platform
import resource
import time

import numpy as np
import threadpoolctl


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def pct(xs, p):
    xs = np.sort(np.asarray(xs))
    return float(xs[max(0, min(len(xs) - 1, int(np.ceil(p * len(xs))) - 1))])


def lat(ms, cpu):
    """Wall-clock and process-CPU (all threads) latency summary, in ms."""
    return {"p50_ms": pct(ms, 0.50), "p95_ms": pct(ms, 0.95), "mean_ms": float(np.mean(ms)),
            "cpu_p50_ms": pct(cpu, 0.50), "cpu_p95_ms": pct(cpu, 0.95)}


def timed(fn, qs):
    fn(qs[0])  # warm-up
    out, cpu = [], []
    for q in qs:
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return lat(out, cpu)


def np_topk(X, q, k):
    s = X @ q
    idx = np.argpartition(-s, k)[:k]
    return idx[np.argsort(-s[idx])]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--nq", type=int, default=1000, help="queries for recall/latency of hnswlib")
    ap.add_argument("--exact-nq", type=int, default=100, help="timed single brute-force queries")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--efc", type=int, default=100)
    ap.add_argument("--ef", default="16,32,64,128,256")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-hnsw", action="store_true")
    ap.add_argument("--skip-faiss", action="store_true")
    ap.add_argument("--skip-brute", action="store_true", help="skip numpy/faiss timings (the exact answer is still computed)")
    ap.add_argument("--out")
    a = ap.parse_args()

    X = np.fromfile(a.base, dtype="<f4").reshape(-1, a.dim)
    Q = np.fromfile(a.queries, dtype="<f4").reshape(-1, a.dim)
    n, k = X.shape[0], a.k
    nq = min(a.nq, Q.shape[0])
    rep = {
        "machine": {"cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), ""),
                    "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                    "load_avg_at_start": " ".join(open("/proc/loadavg").read().split()[:3]),
                    "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")},
        "n": n, "dim": a.dim, "k": k,
    }
    # Touch BLAS once so threadpoolctl sees it, then record which kernel runs.
    _ = X[:64] @ Q[0]
    rep["machine"]["threadpools"] = threadpoolctl.threadpool_info()
    rss0 = rss_bytes()

    # Ground truth: exact top-k by inner product, batched.
    truth = np.empty((nq, k), dtype=np.int64)
    for lo in range(0, nq, 256):
        S = X @ Q[lo:min(lo + 256, nq)].T  # [n, b]
        part = np.argpartition(-S, k, axis=0)[:k]
        for j in range(S.shape[1]):
            idx = part[:, j]
            truth[lo + j] = idx[np.argsort(-S[idx, j])]

    ex_q = Q[:a.exact_nq]
    if a.skip_brute:
        a.skip_faiss = True
    else:
        npr = {"batch_size": a.batch}
        with threadpoolctl.threadpool_limits(limits=a.threads, user_api="blas"):
            npr["single_%dthr" % a.threads] = timed(lambda q: np_topk(X, q, k), ex_q)
            B = Q[:a.batch]
            t0 = time.perf_counter()
            S = X @ B.T
            np.argpartition(-S, k, axis=0)[:k]
            npr["batch_ms_per_query"] = (time.perf_counter() - t0) * 1e3 / len(B)
            del S
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            npr["single_1thr"] = timed(lambda q: np_topk(X, q, k), ex_q)
        rep["numpy"] = npr

    if not a.skip_faiss:
        import faiss
        fr = {"version": faiss.__version__}
        idx = faiss.IndexFlatIP(a.dim)
        idx.add(X)
        faiss.omp_set_num_threads(a.threads)
        fr["single"] = timed(lambda q: idx.search(q[None, :], k), ex_q)
        # Batched: faiss OpenMP threads, BLAS pinned to 1 (avoids the oversubscription noted in perf.md).
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            t0 = time.perf_counter()
            _, I = idx.search(Q[:a.batch], k)
            fr["batch_ms_per_query"] = (time.perf_counter() - t0) * 1e3 / a.batch
        fr["batch_recall_vs_numpy"] = float(np.mean([len(set(I[i]) & set(truth[i])) / k for i in range(min(a.batch, nq))]))
        rep["faiss_flat"] = fr
        del idx

    if not a.skip_hnsw:
        import hnswlib
        hr = {"M": a.M, "ef_construction": a.efc, "build_threads": a.threads}
        p = hnswlib.Index(space="ip", dim=a.dim)
        r0 = rss_bytes()
        p.init_index(max_elements=n, ef_construction=a.efc, M=a.M, random_seed=100)
        p.set_num_threads(a.threads)
        t0, c0 = time.perf_counter(), time.process_time()
        p.add_items(X, np.arange(n))
        hr["build_s"] = time.perf_counter() - t0
        hr["build_cpu_s"] = time.process_time() - c0
        hr["index_rss_bytes"] = rss_bytes() - r0
        sweep = []
        for ef in [int(e) for e in a.ef.split(",") if e]:
            p.set_ef(ef)
            qs = Q[:nq]
            res, ms, cpu = [], [], []
            for q in qs:
                c0 = time.process_time()
                t0 = time.perf_counter()
                lab, _ = p.knn_query(q[None, :], k=k, num_threads=1)
                ms.append((time.perf_counter() - t0) * 1e3)
                cpu.append((time.process_time() - c0) * 1e3)
                res.append(lab[0])
            recall = float(np.mean([len(set(res[i]) & set(truth[i])) / k for i in range(nq)]))
            pt = {"ef": ef, "recall_at_k": recall}
            pt.update(lat(ms, cpu))
            sweep.append(pt)
        hr["ef_sweep"] = sweep
        rep["hnswlib"] = hr
    rep["rss_bytes"] = rss_bytes()
    rep["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rep["base_rss_bytes"] = rss0

    js = json.dumps(rep, indent=2)
    if a.out:
        with open(a.out, "w") as f:
            f.write(js + "\n")
    else:
        print(js)


if __name__ == "__main__":
    main()
