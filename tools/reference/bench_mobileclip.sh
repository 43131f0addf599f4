#!/bin/bash
# Interleaved throughput benchmarks: our towers on simplego (go test -bench in cliplib/encoder)
# next to PyTorch CPU (tools/reference/bench_mobileclip_torch.py, 2 threads), one model at a time,
# with the machine load logged before each run. Usage, from the repository root:
#
#   MOBILECLIP_SRC=/path/to/ml-mobileclip tools/reference/bench_mobileclip.sh [log] [plan]
#
# plan is a file of lines "go ARCH BATCHES" or "torch MODEL BATCHES" (default: the plan below).
# Go architectures use registry names (ViT-B/32), PyTorch ones open_clip names (ViT-B-32);
# MobileCLIP names are the same in both. Each Go measurement is one timed call after a warm-up
# call (-benchtime=1x); each PyTorch one the median of at least 2 calls and 2 seconds.
set -euo pipefail
log=${1:-build/bench_mobileclip.log}
plan=${2:-}
export PYTHONPATH=${MOBILECLIP_SRC:?set MOBILECLIP_SRC to Apple ml-mobileclip source (for MobileCLIP-S0 in PyTorch)}
mkdir -p "$(dirname "$log")"
go test -c -o build/encoder_bench.test ./cliplib/encoder/
stamp() { echo "### $(date +%T) $(uptime | sed 's/.*load/load/') $*" >> "$log"; }
run() {
  local kind=$1 arch=$2 batches=$3
  stamp "$kind $arch batches=$batches"
  if [ "$kind" = go ]; then
    build/encoder_bench.test -test.run='^$' -test.bench='EncodeImages|EncodeTexts' -test.benchtime=1x \
      -arch="$arch" -batches="$batches" 2>&1 | grep -E '^Benchmark|FAIL|panic' >> "$log" || true
  else
    /root/refenv/bin/python tools/reference/bench_mobileclip_torch.py --models "$arch" --batches "$batches" \
      --min-seconds 2 --min-calls 2 2>&1 | grep -E 'images/s|texts/s|Error|^torch ' >> "$log" || true
  fi
}
default_plan="go MobileCLIP-S0 1,8
torch MobileCLIP-S0 1,8
go ViT-B/32 1,8
torch ViT-B-32 1,8
go MobileCLIP-S2 1,8
torch MobileCLIP-S2 1,8
go ViT-B/16 1
torch ViT-B-16 1,8
go MobileCLIP-S1 1
go MobileCLIP-B 1
go MobileCLIP-S0 32
torch MobileCLIP-S0 32
go ViT-B/32 32
torch MobileCLIP-S2 32
go MobileCLIP-S2 32"
while read -r kind arch batches; do
  [ -n "$kind" ] && run "$kind" "$arch" "$batches"
done < <(if [ -n "$plan" ]; then cat "$plan"; else echo "$default_plan"; fi)
stamp done
