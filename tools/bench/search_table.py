#!/usr/bin/env python3
"""Render the search benchmark JSON reports as a Markdown table.

    python3 tools/bench/search_table.py --go go_1e5.json go_1e6.json --ref ref_1e5.json ref_1e6.json

--go: reports from `clipx bench search` (cliplib/bench/searchbench.Report);
--ref: reports from tools/bench/search_reference.py. Sizes are matched by N. Standard library only.
"""
import argparse
import json


def load(paths):
    return [json.load(open(p)) for p in paths]


def fmt(x, nd=2):
    return "—" if x is None else f"{x:.{nd}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--go", nargs="+", required=True)
    ap.add_argument("--ref", nargs="*", default=[])
    a = ap.parse_args()
    gos, refs = load(a.go), {r["n"]: r for r in load(a.ref)}
    m = gos[0]["machine"]
    print(f"Machine: {m['cpu']}, {m['cores']} cores, {m['go_version']}, dot kernel {m['dot_kernel']}.")
    for g in gos:
        print(f"Go run: bandwidth {g['bandwidth_gb_s']:.1f} GB/s, load average at start {g['machine']['load_avg_at_start']}.")
    for r in refs.values():
        mm = r["machine"]
        blas = [t for t in mm.get("threadpools", []) if t.get("user_api") == "blas"]
        kern = blas[0].get("architecture") if blas else "?"
        print(f"Reference run N={r['n']}: numpy {mm['numpy']} (OpenBLAS kernel {kern}), load average at start {mm['load_avg_at_start']}.")
    print()
    cpu = lambda d: fmt(d.get("cpu_p50_ms"), 3)
    print("| N | engine | build s | index MiB | exact p50 / p95 ms (wall) | CPU p50 ms | ×floor | batched ms/query |")
    print("|---|---|---|---|---|---|---|---|")
    for g in gos:
        for s in g["sizes"]:
            n = s["n"]
            e = s.get("exact")
            if e:
                print(f"| {n:.0e} | Go Exact ({g['machine']['dot_kernel']}) | {fmt(e['build_s'])} | {e['index_bytes']/2**20:.0f} | "
                      f"{fmt(e['single']['p50_ms'], 3)} / {fmt(e['single']['p95_ms'], 3)} | {cpu(e['single'])} | {fmt(e['p50_over_floor'])} "
                      f"(floor {fmt(e['bandwidth_floor_ms'], 1)} ms) | {fmt(e['batch_ms_per_query'], 3)} (batch {e['batch_size']}) |")
            r = refs.get(n)
            if r and "numpy" in r:
                npr = r["numpy"]
                thr = [k for k in npr if k.startswith("single_") and k != "single_1thr"][0]
                print(f"| {n:.0e} | numpy X@q ({thr[7:]}) | — | {n*r['dim']*4/2**20:.0f} | {fmt(npr[thr]['p50_ms'], 3)} / {fmt(npr[thr]['p95_ms'], 3)} | {cpu(npr[thr])} | — | {fmt(npr['batch_ms_per_query'], 3)} |")
                print(f"| {n:.0e} | numpy X@q (1thr) | — | — | {fmt(npr['single_1thr']['p50_ms'], 3)} / {fmt(npr['single_1thr']['p95_ms'], 3)} | {cpu(npr['single_1thr'])} | — | — |")
                f = r.get("faiss_flat")
                if f:
                    print(f"| {n:.0e} | faiss IndexFlatIP {f['version']} | — | — | {fmt(f['single']['p50_ms'], 3)} / {fmt(f['single']['p95_ms'], 3)} | {cpu(f['single'])} | — | {fmt(f['batch_ms_per_query'], 3)} |")
    print()
    print("| N | engine | M / efC | build s wall (CPU) | index MiB | ef | recall@10 | p50 ms | p95 ms | CPU p50 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for g in gos:
        for s in g["sizes"]:
            n = s["n"]
            h = s.get("hnsw")
            rows = []
            if h:
                for p in h["ef_sweep"]:
                    rows.append(("Go HNSW", f"{h['M']} / {h['ef_construction']}", (h["build_s"], h.get("build_cpu_s")), h["index_bytes"] / 2**20, p))
            r = refs.get(n)
            if r and "hnswlib" in r:
                hr = r["hnswlib"]
                for p in hr["ef_sweep"]:
                    rows.append(("hnswlib 0.6.2", f"{hr['M']} / {hr['ef_construction']}", (hr["build_s"], hr.get("build_cpu_s")), hr["index_rss_bytes"] / 2**20, p))
            for eng, mp, b, mem, p in rows:
                print(f"| {n:.0e} | {eng} | {mp} | {b[0]:.0f} ({fmt(b[1], 0)}) | {mem:.0f} | {p['ef']} | {p['recall_at_k']:.4f} | {p['p50_ms']:.3f} | {p['p95_ms']:.3f} | {cpu(p)} |")
    print()
    print("| N | index | file MiB | save s | load s wall (CPU) | RSS after build MiB | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for g in gos:
        for s in g["sizes"]:
            for kind in ("exact", "hnsw"):
                x = s.get(kind) or {}
                p = x.get("persist")
                if p:
                    rss = x.get("rss_after_build_bytes")
                    print(f"| {s['n']:.0e} | {kind} | {p['file_bytes']/2**20:.0f} | {p['save_s']:.2f} | {p['load_s']:.2f} ({fmt(p.get('load_cpu_s'))}) | "
                          f"{'—' if rss is None else f'{rss/2**20:.0f}'} | {s['peak_rss_bytes']/2**20:.0f} |")


if __name__ == "__main__":
    main()
