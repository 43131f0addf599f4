#!/usr/bin/env bash
# install-pjrt-cuda.sh: installs the PJRT CUDA plugin and the NVIDIA libraries it loads, pinned
# by docker/pjrt-cuda12.txt (pip --require-hashes), in the layout go-xla v0.1.4 expects, so that
# GOMLX_BACKEND=xla:cuda works. Used by docker/Dockerfile (target cuda); it also works on a Linux
# x86-64 machine with an NVIDIA driver (>= 525) outside Docker. No prompts; re-running replaces
# the installation.
#
# Layout (DEST default /usr/local/lib/go-xla, a directory go-xla searches):
#
#   DEST/nvidia/pjrt_c_api_cuda_plugin.so   the plugin (jax-cuda12-pjrt's xla_cuda_plugin.so)
#   DEST/nvidia/<component>/lib/...         cublas, cudnn, cufft, ... from the NVIDIA wheels; the
#                                           plugin's RPATH ($ORIGIN/../nvidia/<component>/lib)
#                                           finds them there
#   DEST/nvidia/cuda_nvcc/{bin/ptxas,nvvm}  what XLA needs at run time: point
#                                           XLA_FLAGS=--xla_gpu_cuda_data_dir=DEST/nvidia/cuda_nvcc
#   DEST/nvidia/bin/ptxas                   symlink, as go-xla's own installer makes
#
# Set XLA_FLAGS yourself: go-xla v0.1.4 otherwise appends a data dir hard-coded to its author's
# home directory (fixed in go-xla v0.2.1).
#
# Options:
#   --dest DIR            install under DIR (default /usr/local/lib/go-xla)
#   --requirements FILE   pinned wheel list (default docker/pjrt-cuda12.txt beside this script)
#   --ldconfig            also register every DEST/nvidia/*/lib with ldconfig (needs root), so
#                         libraries the plugin dlopens by name (cusolver, nvJitLink, ...) resolve
#   --plugin-only         install only the plugin (skip the 3 GB of NVIDIA libraries; CI uses
#                         this to check the pins without a GPU)
#
# Environment: PYTHON (a python3 with pip; default python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST=/usr/local/lib/go-xla
REQ="$HERE/pjrt-cuda12.txt"
LDCONFIG=0
PLUGIN_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) [ $# -ge 2 ] || { echo "install-pjrt-cuda.sh: --dest needs a directory" >&2; exit 2; }; DEST="$2"; shift ;;
    --dest=*) DEST="${1#--dest=}" ;;
    --requirements) [ $# -ge 2 ] || { echo "install-pjrt-cuda.sh: --requirements needs a file" >&2; exit 2; }; REQ="$2"; shift ;;
    --requirements=*) REQ="${1#--requirements=}" ;;
    --ldconfig) LDCONFIG=1 ;;
    --plugin-only) PLUGIN_ONLY=1 ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "install-pjrt-cuda.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
log() { echo "install-pjrt-cuda: $*" >&2; }
[ -f "$REQ" ] || { log "requirements file $REQ not found"; exit 1; }
if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
  log "the pinned wheels are for linux x86-64, not $(uname -s)/$(uname -m)"; exit 1
fi
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pip --version >/dev/null 2>&1 || { log "need $PYTHON with pip (apt-get install python3-pip)"; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
PINS="$WORK/requirements.txt"
if [ "$PLUGIN_ONLY" = 1 ]; then
  # Keep the jax-cuda12-pjrt requirement (with its continuation line) only.
  awk '/^jax-cuda[0-9]+-pjrt==/{keep=1} keep{print} keep && !/\\$/{keep=0}' "$REQ" > "$PINS"
else
  cp "$REQ" "$PINS"
fi
log "pip download ($(grep -c '^[a-z].*==' "$PINS") pinned wheel(s))"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-cache-dir --no-deps --only-binary=:all: \
  --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_12_x86_64 --platform manylinux2010_x86_64 \
  --implementation py --python-version 3 --require-hashes -r "$PINS" -d "$WORK/wheels"

NV="$DEST/nvidia"
rm -rf "$NV.new"
mkdir -p "$NV.new"
# Extract the plugin under go-xla's name and every wheel's nvidia/ tree, keeping file modes
# (ptxas must stay executable), then swap the new tree in.
"$PYTHON" - "$WORK/wheels" "$NV.new" <<'PYEOF'
import os, pathlib, shutil, sys, zipfile
wheels, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
plugins = 0
for whl in sorted(wheels.glob("*.whl")):
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            name = info.filename
            if name.startswith("jax_plugins/") and name.endswith("/xla_cuda_plugin.so"):
                dst = out / "pjrt_c_api_cuda_plugin.so"
                plugins += 1
            elif name.startswith("nvidia/") and not name.endswith("/") and name != "nvidia/__init__.py":
                dst = out / name[len("nvidia/"):]
            else:
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(dst, "wb") as f:
                shutil.copyfileobj(src, f, 1 << 20)
            # World-readable, and executable for everyone if the owner could execute it (ptxas
            # comes as 0744; the notebook user is not root).
            os.chmod(dst, 0o755 if (info.external_attr >> 16) & 0o100 else 0o644)
if plugins != 1:
    sys.exit(f"expected exactly one xla_cuda_plugin.so in the wheels, found {plugins}")
PYEOF
if [ -x "$NV.new/cuda_nvcc/bin/ptxas" ]; then
  mkdir -p "$NV.new/bin"
  ln -sfn ../cuda_nvcc/bin/ptxas "$NV.new/bin/ptxas"
elif [ "$PLUGIN_ONLY" = 0 ]; then
  log "ptxas missing from the nvcc wheel"; exit 1
fi
rm -rf "$NV.old"
[ ! -e "$NV" ] || mv "$NV" "$NV.old"
mv "$NV.new" "$NV"
rm -rf "$NV.old"

if [ "$LDCONFIG" = 1 ] && [ "$PLUGIN_ONLY" = 0 ]; then
  conf=/etc/ld.so.conf.d/go-xla-nvidia.conf
  find "$NV" -mindepth 2 -maxdepth 2 -type d -name lib | sort > "$conf"
  ldconfig
  log "registered $(wc -l < "$conf") NVIDIA library directories in $conf"
fi
log "installed $NV/pjrt_c_api_cuda_plugin.so"
log "use: GOMLX_BACKEND=xla:cuda XLA_FLAGS=--xla_gpu_cuda_data_dir=$NV/cuda_nvcc"
