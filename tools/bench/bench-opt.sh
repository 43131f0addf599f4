#!/usr/bin/env bash
# bench-opt.sh: the optimization figures of the closing note of the optimization issue, in one run:
#
#   clipx bench precision  bf16 and f16 vs f32 (features, cosine, logits, top-1 agreement; speed)
#                          on xla:cpu, and bf16 vs f32 on simplego (f16 is refused there);
#   clipx bench bucketing  text-length buckets vs the full 77-token context (equality and speed-up);
#   clipx bench batching   the request batcher's throughput by MaxBatch 1..64 (64 clients);
#   clipx bench zeroshot   plain facade vs the optimized one on a repeated zero-shot workload.
#
# Usage: tools/bench/bench-opt.sh [--out DIR]  (default build/bench-opt). Model: BENCH_MODEL (ViT-B/32).
# xla:cpu parts are skipped when its plugin is missing (scripts/install-xla-cpu.sh installs it).
# Weights: the trained ones when cached, else deterministic random weights (reported as such).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
OUT="$REPO/build/bench-opt"
if [ "${1:-}" = --out ]; then OUT="$2"; fi
MODEL="${BENCH_MODEL:-ViT-B/32}"
mkdir -p "$OUT"
go build -o "$OUT/clipx" ./cmd/clipx
X="$OUT/clipx"
log() { echo "bench-opt.sh: $*" >&2; }
log "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
xla=0
if "$X" bench models --backend xla:cpu --models tiny-vit --towers image --batches 1 --min-iters 1 --min-time 0s >/dev/null 2>&1; then xla=1; fi

step() { local name="$1"; shift; log "== $name"; local t0=$SECONDS; "$@"; log "$name took $((SECONDS-t0))s"; }
if [ $xla = 1 ]; then
  step "precision, xla:cpu" "$X" bench precision --offline --model "$MODEL" --backend xla:cpu --precisions bf16,f16 --json "$OUT/precision-xla-cpu.json"
  step "bucketing, xla:cpu" "$X" bench bucketing --model "$MODEL" --backend xla:cpu --json "$OUT/bucketing-xla-cpu.json"
  step "batching, xla:cpu" "$X" bench batching --model "$MODEL" --backend xla:cpu --json "$OUT/batching-xla-cpu.json"
  step "zero-shot, xla:cpu" "$X" bench zeroshot --offline --model "$MODEL" --backend xla:cpu --precisions f32,bf16,f16 --json "$OUT/zeroshot-xla-cpu.json"
else
  log "xla:cpu not usable here: its parts are skipped"
fi
# simplego is ~30x slower: fewer photos, one timed call per point.
step "precision, simplego" "$X" bench precision --offline --model "$MODEL" --backend go --precisions bf16 --max-images 8 --cifar-count 8 --json "$OUT/precision-go.json"
step "bucketing, simplego" "$X" bench bucketing --model "$MODEL" --backend go --batches 1,8 --min-iters 1 --min-time 0s --json "$OUT/bucketing-go.json"
step "batching, simplego (text tower)" "$X" bench batching --model "$MODEL" --backend go --towers text --max-batches 1,8,32 --clients 32 --min-batches 1 --min-time 0s --json "$OUT/batching-go.json"
log "reports in $OUT"
