#!/usr/bin/env bash
# bench-cpu.sh: the CPU throughput comparison behind the closing notes of the core, ResNet and
# fast-path issues, in one run on one machine:
#
#   clipx bench models on simplego (`go`) and on `xla:cpu` (when its plugin is installed), then
#   tools/bench/torch_bench.py (PyTorch + open_clip, same architectures, random weights, same
#   batch sizes and prompt length), then one `clipx bench compare` table per backend
#   (items/s of both and the ratio ours/PyTorch).
#
# Usage: scripts/bench-cpu.sh [--out DIR]   (default build/bench-cpu)
# Overrides: BENCH_MODELS (default ViT-B/32,RN50,RN101), BENCH_BATCHES (1,8,32), BENCH_TOWERS
# (image,text), BENCH_BACKENDS (go,xla:cpu), BENCH_PYTHON (python with torch + open_clip;
# default /root/refenv/bin/python, else python3).
# Run it on a quiet machine: simplego takes about 2 s per ViT-B/32 image on 2 cores, so each
# simplego point is timed once (--min-iters 1 --min-time 0s) after an untimed warm-up call.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
OUT="$REPO/build/bench-cpu"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench-cpu.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
MODELS="${BENCH_MODELS:-ViT-B/32,RN50,RN101}"
BATCHES="${BENCH_BATCHES:-1,8,32}"
TOWERS="${BENCH_TOWERS:-image,text}"
BACKENDS="${BENCH_BACKENDS:-go,xla:cpu}"
PY="${BENCH_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x /root/refenv/bin/python ]; then PY=/root/refenv/bin/python; else PY=python3; fi
fi
mkdir -p "$OUT"
go build -o "$OUT/clipx" ./cmd/clipx
log() { echo "bench-cpu.sh: $*" >&2; }
log "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

IFS=, read -r -a backends <<< "$BACKENDS"
for be in "${backends[@]}"; do
  tag="${be//:/-}"
  extra=()
  if [ "$be" = go ]; then extra=(--min-iters 1 --min-time 0s); fi
  if [[ "$be" == xla:* ]] && ! "$OUT/clipx" bench models --backend "$be" --models tiny-vit --towers image --batches 1 --min-iters 1 --min-time 0s >/dev/null 2>&1; then
    log "skipping $be: its PJRT plugin is not usable here (scripts/install-xla-cpu.sh installs the CPU one)"
    continue
  fi
  log "== clipx on $be: $MODELS, towers $TOWERS, batches $BATCHES"
  t0=$SECONDS
  "$OUT/clipx" bench models --backend "$be" --models "$MODELS" --towers "$TOWERS" --batches "$BATCHES" \
    "${extra[@]}" --json "$OUT/clipx-$tag.json"
  log "clipx on $be took $((SECONDS-t0))s"
done

log "== PyTorch ($PY): $MODELS"
t0=$SECONDS
"$PY" tools/bench/torch_bench.py --models "$MODELS" --towers "$TOWERS" --batches "$BATCHES" --json "$OUT/torch.json"
log "PyTorch took $((SECONDS-t0))s"

for be in "${backends[@]}"; do
  tag="${be//:/-}"
  [ -f "$OUT/clipx-$tag.json" ] || continue
  echo
  echo "### clipx ($be) vs PyTorch CPU"
  "$OUT/clipx" bench compare "$OUT/clipx-$tag.json" "$OUT/torch.json" | tee "$OUT/compare-$tag.txt"
done
log "reports in $OUT"
