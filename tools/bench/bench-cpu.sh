#!/usr/bin/env bash
# bench-cpu.sh: clipx against PyTorch on this CPU, interleaved, in one run — the table behind the
# fast-path closing notes:
#
#   tools/bench/torch_bench.py --interleave-with "clipx bench worker": for each model, tower and
#   batch size, round-robin one call of ours then one call of PyTorch's (open_clip, or Apple's code
#   for MobileCLIP-S0), at least BENCH_ROUNDS rounds and BENCH_MIN_TIME seconds after two untimed
#   warm-up calls each; items/s = batch / median latency; PyTorch under torch.inference_mode() with
#   as many threads as this machine has cores (ours uses them all too). Text runs the full
#   77-token context on both sides.
#
# It prints the ratio table (ours / PyTorch) and writes $OUT/interleaved.json and
# $OUT/interleaved.md, both with the machine's load at the start.
#
# Usage: tools/bench/bench-cpu.sh [--out DIR]   (default build/bench-cpu)
# Overrides: BENCH_MODELS (default ViT-B/32,RN50,MobileCLIP-S0), BENCH_BATCHES (1,8,32),
# BENCH_TOWERS (image,text), BENCH_BACKEND (ours; default the automatic choice, xla:cpu where
# installed), BENCH_ROUNDS (7), BENCH_MIN_TIME (3 s per point), BENCH_PYTHON (python with torch,
# open_clip_torch and timm; default /root/refenv/bin/python, else python3), MOBILECLIP_SRC (Apple's
# ml-mobileclip source, needed for MobileCLIP-S0's PyTorch side; without it that model's row says
# so and the others run).
# Run it on a quiet machine; the interleaving keeps the ratio fair when the load drifts, not the
# absolute figures.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
OUT="$REPO/build/bench-cpu"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "bench-cpu.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
MODELS="${BENCH_MODELS:-ViT-B/32,RN50,MobileCLIP-S0}"
BATCHES="${BENCH_BATCHES:-1,8,32}"
TOWERS="${BENCH_TOWERS:-image,text}"
ROUNDS="${BENCH_ROUNDS:-7}"
MIN_TIME="${BENCH_MIN_TIME:-3}"
PY="${BENCH_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x /root/refenv/bin/python ]; then PY=/root/refenv/bin/python; else PY=python3; fi
fi
mkdir -p "$OUT"
go build -o "$OUT/clipx" ./cmd/clipx
log() { echo "bench-cpu.sh: $*" >&2; }
log "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
backend_args=()
if [ -n "${BENCH_BACKEND:-}" ]; then backend_args=(--backend "$BENCH_BACKEND"); fi
t0=$SECONDS
"$PY" tools/bench/torch_bench.py --interleave-with "$OUT/clipx bench worker" "${backend_args[@]}" \
  --models "$MODELS" --towers "$TOWERS" --batches "$BATCHES" --rounds "$ROUNDS" --min-time "$MIN_TIME" \
  --threads "$(nproc)" --json "$OUT/interleaved.json" 2> >(grep -v -i "warning" >&2) | grep -v '^{' | tee "$OUT/interleaved.md"
log "took $((SECONDS-t0))s; reports in $OUT"
