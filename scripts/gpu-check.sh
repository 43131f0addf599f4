#!/usr/bin/env bash
# gpu-check.sh: the GPU check, prepared to run in one go (well under 8 minutes) on a machine with an
# NVIDIA GPU and a Python that has torch and a jax CUDA PJRT plugin:
#
#   1. finds clipx (prebuilt at build/gpu/clipx, $CLIPX, or builds it with go) and the PJRT CUDA
#      plugin (--plugin, $PJRT_CUDA_PLUGIN, with --carried-plugin one reassembled from the xz parts
#      build/gpu/pjrt-*.xz.part*, else the jax_plugins/xla_cuda*/xla_cuda_plugin.so of the
#      machine's Python: go-xla v0.1.4 speaks PJRT C API 0.83, and plugins much newer than that
#      may refuse its argument structs), and sets the CUDA
#      library path and XLA_FLAGS=--xla_gpu_cuda_data_dir (go-xla v0.1.4 otherwise points XLA at a
#      hard-coded developer path);
#   2. parity: full-size ViT-B/32 and RN50 (random weights, fixed seed) on the GPU, in f32 and f16,
#      against the embeddings simplego computed on a CPU (testdata/gpu/cpu_reference.json, written
#      by `clipx parity write`);
#   3. benchmarks image and text encoding at batch 1..256 in f32 and f16 with clipx, then PyTorch
#      (open_clip, same architectures, random weights) on the same card in the same run;
#   4. prints one table: items/s of both and the ratio clipx/PyTorch;
#   5. profiles the plateau (ViT-B/32, f16, batch 256 by default; GPU_CHECK_PROFILE_*): the same
#      point with the input already on the device (`--resident-input`: the model alone, no
#      host-to-device copy), XLA's optimised HLO (--xla_dump_to, summarised: fusions, library
#      calls, copies and transposes), an nsys trace with its kernel and memcpy summaries when nsys
#      is installed, and the model FLOP utilisation against the card's peak (GPU_PEAK_TFLOPS,
#      default 989 dense f16/bf16 for H100/H200).
#
# Usage: scripts/gpu-check.sh [--dry-run] [--out DIR] [--plugin PATH | --carried-plugin]
#   --dry-run   CPU rehearsal (simplego, tiny models, PyTorch on CPU) to test the script anywhere.
# Files land in $OUT (the device tool's output folder) or --out (default build/gpu-check).
# Overrides for a partial rerun: GPU_CHECK_MODELS, GPU_CHECK_BATCHES, GPU_CHECK_TOWERS,
# GPU_CHECK_PRECISIONS, GPU_CHECK_SKIP_PARITY=1.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
DRY=0
OUTDIR="${OUT:-$REPO/build/gpu-check}"
PLUGIN="${PJRT_CUDA_PLUGIN:-}"
CARRIED=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --out) OUTDIR="$2"; shift ;;
    --plugin) PLUGIN="$2"; shift ;;
    --carried-plugin) CARRIED=1 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUTDIR"
LOG="$OUTDIR/gpu-check.log"
log() { echo "gpu-check: $*" | tee -a "$LOG" >&2; }
step() { echo; echo "=== $* ($(date +%T))" | tee -a "$LOG"; }
: >"$LOG"

PY="${PYTHON:-python3}"
# Wheels carried to a machine without network (open_clip and its small dependencies).
if [ -d "$REPO/.whl" ] && ls "$REPO"/.whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$REPO"/.whl/*.whl \
    && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi

# --- clipx -------------------------------------------------------------------------------------
CLIPX="${CLIPX:-}"
if [ -z "$CLIPX" ] && [ -x "$REPO/build/gpu/clipx" ]; then CLIPX="$REPO/build/gpu/clipx"; fi
if [ -z "$CLIPX" ]; then
  command -v go >/dev/null || { log "no clipx binary (build/gpu/clipx or \$CLIPX) and no Go to build one"; exit 1; }
  go build -o "$OUTDIR/clipx" ./cmd/clipx || exit 1
  CLIPX="$OUTDIR/clipx"
fi
log "clipx: $CLIPX"

if [ "$DRY" = 1 ]; then
  export GOMLX_BACKEND=go
  MODELS=tiny-vit,tiny-rn; TORCH_MODELS=ViT-B-32; BATCHES=1,2; TORCH_BATCHES=1; DEVICE=cpu; PRECS=f32,bf16
  PARITY_REF="$OUTDIR/tiny_reference.json"
  "$CLIPX" parity write --models "$MODELS" --file "$PARITY_REF" || exit 1
else
  MODELS="${GPU_CHECK_MODELS:-ViT-B/32,RN50}"; TORCH_MODELS="$MODELS"; BATCHES="${GPU_CHECK_BATCHES:-1,8,32,128,256}"
  TORCH_BATCHES=$BATCHES; DEVICE=cuda; PRECS="${GPU_CHECK_PRECISIONS:-f32,f16}"
  PARITY_REF="$REPO/testdata/gpu/cpu_reference.json"
  step "machine"
  nvidia-smi --query-gpu=name,memory.total,driver_version,power.limit --format=csv 2>&1 | tee -a "$LOG"
  SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null)"
  # --- the PJRT CUDA plugin ----------------------------------------------------------------------
  if [ -z "$PLUGIN" ] && [ "$CARRIED" = 1 ]; then
    mkdir -p /tmp/pjrt && cat "$REPO"/build/gpu/pjrt-*.xz.part* | xz -d >/tmp/pjrt/xla_cuda_plugin.so && PLUGIN=/tmp/pjrt/xla_cuda_plugin.so
    log "reassembled the carried plugin: $(sha256sum /tmp/pjrt/xla_cuda_plugin.so | cut -c1-16)…"
  fi
  if [ -z "$PLUGIN" ]; then
    PLUGIN="$(ls "$SITE"/jax_plugins/xla_cuda*/xla_cuda_plugin.so 2>/dev/null | head -1)"
  fi
  [ -n "$PLUGIN" ] && [ -f "$PLUGIN" ] || { log "no PJRT CUDA plugin found (give --plugin)"; exit 1; }
  log "PJRT plugin: $PLUGIN"
  # CUDA libraries and data dir from the nvidia-* wheels.
  LIBS="$(find "$SITE/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')"
  export LD_LIBRARY_PATH="${LIBS}${LD_LIBRARY_PATH:-}"
  LIBDEVICE="$(find "$SITE/nvidia" -name 'libdevice.10.bc' 2>/dev/null | head -1)"
  if [ -n "$LIBDEVICE" ]; then
    DATA_DIR="$(dirname "$(dirname "$(dirname "$LIBDEVICE")")")"
    export XLA_FLAGS="--xla_gpu_cuda_data_dir=$DATA_DIR ${XLA_FLAGS:-}"
  fi
  PTXAS="$(find "$SITE/nvidia" -name ptxas -type f 2>/dev/null | head -1)"
  [ -n "$PTXAS" ] && export PATH="$(dirname "$PTXAS"):$PATH"
  log "XLA_FLAGS=${XLA_FLAGS:-}"
  export GOMLX_BACKEND="xla:$PLUGIN" GOMLX_NO_AUTO_INSTALL=1
fi

# --- 2. parity ---------------------------------------------------------------------------------
TOWERS="${GPU_CHECK_TOWERS:-image,text}"
if [ "${GPU_CHECK_SKIP_PARITY:-0}" != 1 ]; then
  step "parity: $MODELS on $GOMLX_BACKEND vs CPU reference $PARITY_REF"
  timeout 240 "$CLIPX" parity compare --models "$MODELS" --precisions "$PRECS" --file "$PARITY_REF" 2>&1 | tee "$OUTDIR/parity.txt" | tee -a "$LOG"
fi

# --- 3. benchmarks -----------------------------------------------------------------------------
step "clipx bench: $MODELS batches $BATCHES precisions $PRECS"
timeout 300 "$CLIPX" bench models --models "$MODELS" --towers "$TOWERS" --batches "$BATCHES" --precisions "$PRECS" --min-time 1s \
  --json "$OUTDIR/clipx.json" 2>>"$LOG" | tee -a "$LOG"
step "PyTorch ($DEVICE): $TORCH_MODELS batches $TORCH_BATCHES"
TPRECS="$PRECS"; [ "$DRY" = 1 ] && TPRECS=f32
timeout 240 "$PY" tools/bench/torch_bench.py --device "$DEVICE" --models "$TORCH_MODELS" --towers "$TOWERS" --batches "$TORCH_BATCHES" \
  --precisions "$TPRECS" --min-time 1 --json "$OUTDIR/torch.json" >>"$LOG" 2>&1 || log "PyTorch benchmark failed (see log)"

# --- 4. one table ------------------------------------------------------------------------------
step "clipx vs PyTorch"
if [ -f "$OUTDIR/clipx.json" ] && [ -f "$OUTDIR/torch.json" ]; then
  "$CLIPX" bench compare "$OUTDIR/clipx.json" "$OUTDIR/torch.json" | tee "$OUTDIR/table.txt" | tee -a "$LOG"
else
  log "missing $OUTDIR/clipx.json or torch.json: no comparison table"
fi

# --- 5. profile of the plateau -------------------------------------------------------------------
if [ "$DRY" = 1 ]; then
  PMODEL="${GPU_CHECK_PROFILE_MODEL:-tiny-vit}"; PBATCH="${GPU_CHECK_PROFILE_BATCH:-8}"; PPREC="${GPU_CHECK_PROFILE_PRECISION:-f32}"
else
  PMODEL="${GPU_CHECK_PROFILE_MODEL:-ViT-B/32}"; PBATCH="${GPU_CHECK_PROFILE_BATCH:-256}"; PPREC="${GPU_CHECK_PROFILE_PRECISION:-f16}"
fi
PROF="$OUTDIR/profile"
mkdir -p "$PROF"
step "profile: $PMODEL image batch $PBATCH $PPREC, input copied per call vs resident on the device"
for mode in copied resident; do
  extra=(); [ "$mode" = resident ] && extra=(--resident-input)
  timeout 240 "$CLIPX" bench models --models "$PMODEL" --towers image --batches "$PBATCH" --precisions "$PPREC" \
    --min-time 2s "${extra[@]}" --json "$PROF/$mode.json" 2>>"$LOG" | tail -1 | sed "s/^/$mode: /" | tee -a "$LOG"
done
if [ "$DRY" != 1 ]; then
  step "profile: XLA's optimised HLO"
  XLA_FLAGS="${XLA_FLAGS:-} --xla_dump_to=$PROF/xla-dump --xla_dump_hlo_as_text --xla_dump_hlo_pass_re=^$" \
    timeout 180 "$CLIPX" bench models --models "$PMODEL" --towers image --batches "$PBATCH" --precisions "$PPREC" \
    --min-iters 1 --min-time 0s >/dev/null 2>>"$LOG"
  HLO="$(ls -S "$PROF"/xla-dump/*after_optimizations.txt 2>/dev/null | head -1)"
  if [ -n "$HLO" ]; then
    {
      echo "optimised HLO: $HLO"
      for what in "fusion(" "custom-call(" "copy(" "transpose(" "convolution(" "dot(" "__cublas" "__cudnn" "triton"; do
        printf '%-14s %6d\n' "$what" "$(grep -c -F "$what" "$HLO")"
      done
    } | tee "$PROF/hlo-summary.txt" | tee -a "$LOG"
  else
    log "no HLO dump written (see $PROF/xla-dump)"
  fi
  if command -v nsys >/dev/null; then
    step "profile: nsys"
    timeout 240 nsys profile --force-overwrite true --trace cuda -o "$PROF/nsys" \
      "$CLIPX" bench models --models "$PMODEL" --towers image --batches "$PBATCH" --precisions "$PPREC" --min-iters 5 --min-time 0s \
      >>"$LOG" 2>&1 && nsys stats --report cuda_gpu_kern_sum,cuda_gpu_mem_time_sum,cuda_api_sum "$PROF/nsys.nsys-rep" \
      >"$PROF/nsys-stats.txt" 2>>"$LOG" && head -60 "$PROF/nsys-stats.txt" | tee -a "$LOG"
  else
    log "nsys not installed: no kernel trace"
  fi
fi
step "profile: model FLOP utilisation"
"$PY" - "$PROF" "${GPU_PEAK_TFLOPS:-989}" "$DRY" <<'PYEOF' | tee "$PROF/mfu.txt" | tee -a "$LOG"
import json, os, sys
prof, peak, dry = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1"
for mode in ("copied", "resident"):
    path = os.path.join(prof, mode + ".json")
    if not os.path.exists(path):
        print(f"{mode}: no result"); continue
    for r in json.load(open(path)).get("results", []):
        if r.get("error"):
            print(f"{mode}: error {r['error']}"); continue
        g = r.get("gflop_per_item", 0)
        achieved = r["items_per_sec"] * g / 1e3  # TFLOP/s
        line = f"{mode}: {r['model']} {r['precision']} batch {r['batch']}: {r['items_per_sec']:.1f} items/s, {g:.2f} GFLOP/item, {achieved:.2f} TFLOP/s"
        if not dry:
            line += f", MFU {100 * achieved / peak:.1f}% of {peak:g} TFLOP/s"
        print(line)
PYEOF
