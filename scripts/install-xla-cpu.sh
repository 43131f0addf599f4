#!/usr/bin/env bash
# install-xla-cpu.sh: installs a PJRT CPU plugin so that the `xla:cpu` backend works, from PyPI
# (GoMLX's own auto-installer downloads it from GitHub releases, which CI and sandboxed machines
# may not reach). Idempotent, no prompts; linux/x86-64 only.
#
# What it installs: the XLA CPU PJRT plugin shipped by the PyPI wheel xla-cpu-pjrt==0.0.1
# (published as "The OpenXLA Authors", built by XLA's Bazel wheel rule; PJRT C API 0.81, the same
# ABI as the 0.83 that go-xla v0.1.4 was written against, less two functions GoMLX does not call).
# The wheel is fetched with pip --require-hashes (pinned sha256), and the one shared library is
# extracted and checked against its own pinned sha256, as
#
#   $DEST/pjrt_c_api_cpu_plugin.so        (DEST default: ~/.local/lib/go-xla)
#
# which is the first directory go-xla searches for the "cpu" plugin. Beside it, it builds
#
#   $DEST/libclipkit_pjrt_cache.so        (from cliplib/backend/pjrtcache/pjrt_cache.c, with cc)
#
# the persistent compilation cache package backend wraps the plugin with (compiled programs kept
# in $CLIPKIT_XLA_CACHE, default ~/.cache/clipkit/xla; CLIPKIT_XLA_CACHE=off turns it off). It is
# rebuilt when its source changes; without a C compiler the plugin still works, uncached. Then:
#
#   GOMLX_BACKEND=xla:cpu go run ./cmd/clipx ...      (or backend.New("xla:cpu"))
#
# Options:
#   --dest DIR   install into DIR instead (e.g. /usr/local/lib/go-xla, also searched by go-xla;
#                any other DIR must be given to GoMLX as PJRT_PLUGIN_LIBRARY_PATH=DIR, or use
#                GOMLX_BACKEND=xla:DIR/pjrt_c_api_cpu_plugin.so)
#   --check      only verify the installed plugin (exit 1 if missing or different)
#   --print-path print the plugin path and exit
#
# Environment: CLIPKIT_CACHE (download cache, default ~/.cache/clipkit; the wheel is kept in
# $CLIPKIT_CACHE/pjrt/), PYTHON (a python3 with pip; default: python3, else <repo>/.venv/bin/python).
set -euo pipefail

WHEEL_NAME=xla-cpu-pjrt
WHEEL_VERSION=0.0.1
WHEEL_FILE=xla_cpu_pjrt-0.0.1-py3-none-manylinux_2_27_x86_64.whl
WHEEL_SHA256=55837b6b7b47daa717f2d9a5a03563ea0ceaa338d06a81a1e2d3f060d960decc
MEMBER=xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so
SO_SHA256=88c3f28c5900f48ad4a82cab9e79bba9537809743395e341485f8794268820dc
PLUGIN_NAME=pjrt_c_api_cpu_plugin.so

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${HOME}/.local/lib/go-xla"
MODE=install
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) [ $# -ge 2 ] || { echo "install-xla-cpu.sh: --dest needs a directory" >&2; exit 2; }
            DEST="$2"; shift ;;
    --dest=*) DEST="${1#--dest=}" ;;
    --check) MODE=check ;;
    --print-path) MODE=print ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "install-xla-cpu.sh: unknown argument $1 (want --dest DIR, --check, --print-path)" >&2; exit 2 ;;
  esac
  shift
done
TARGET="$DEST/$PLUGIN_NAME"
CACHE_LIB="$DEST/libclipkit_pjrt_cache.so"
CACHE_SRC="$REPO/cliplib/backend/pjrtcache/pjrt_cache.c"
log() { echo "install-xla-cpu: $*" >&2; }

# cache_lib_ok: the cache library is built from the current source (its sha256 is kept beside it).
cache_lib_ok() { [ -f "$CACHE_LIB" ] && [ "$(cat "$CACHE_LIB.src-sha256" 2>/dev/null)" = "$(sha256 "$CACHE_SRC")" ]; }

# build_cache_lib compiles the compilation cache library against go-xla's copy of XLA's
# pjrt_c_api.h (the module go.mod requires), atomically. A failure leaves the plugin uncached.
build_cache_lib() {
  cache_lib_ok && return 0
  local cc="${CC:-cc}" inc tmp
  command -v "$cc" >/dev/null 2>&1 || { log "no C compiler ($cc): the compilation cache is not built"; return 0; }
  inc="$(cd "$REPO" && go list -m -f '{{.Dir}}' github.com/gomlx/go-xla 2>/dev/null)/pkg/pjrt"
  [ -f "$inc/pjrt_c_api.h" ] || { log "go-xla's pjrt_c_api.h not found (go mod download first): the compilation cache is not built"; return 0; }
  tmp="$(mktemp "$DEST/.libclipkit_pjrt_cache.XXXXXX")"
  if "$cc" -O2 -Wall -shared -fPIC -I "$inc" -o "$tmp" "$CACHE_SRC" -ldl -lpthread; then
    chmod 0755 "$tmp"
    mv -f "$tmp" "$CACHE_LIB"
    sha256 "$CACHE_SRC" > "$CACHE_LIB.src-sha256"
    log "built $CACHE_LIB (the XLA compilation cache)"
  else
    rm -f "$tmp"
    log "building $CACHE_LIB failed: the compilation cache is off"
  fi
}

if [ "$MODE" = print ]; then echo "$TARGET"; exit 0; fi

if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
  log "no PyPI package ships a PJRT CPU plugin for $(uname -s)/$(uname -m) that this script knows;" \
      "use the default pure-Go backend (GOMLX_BACKEND=go)"
  exit 1
fi

sha256() { sha256sum "$1" | cut -d' ' -f1; }
installed_ok() { [ -f "$TARGET" ] && [ "$(sha256 "$TARGET")" = "$SO_SHA256" ]; }

if installed_ok; then
  log "$TARGET is installed ($WHEEL_NAME $WHEEL_VERSION, sha256 verified)"
  if [ "$MODE" = check ]; then
    cache_lib_ok || log "$CACHE_LIB is missing or older than its source (the plugin runs uncached); run scripts/install-xla-cpu.sh"
    exit 0
  fi
  build_cache_lib
  exit 0
fi
if [ "$MODE" = check ]; then
  if [ -e "$TARGET" ]; then log "$TARGET differs from $WHEEL_NAME $WHEEL_VERSION (sha256 mismatch)"
  else log "$TARGET is missing; run scripts/install-xla-cpu.sh"; fi
  exit 1
fi

# A python with pip: pip download works without installing anything into that python.
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for p in python3 "$REPO/.venv/bin/python"; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -m pip --version >/dev/null 2>&1; then PYTHON="$p"; break; fi
  done
fi
[ -n "$PYTHON" ] || { log "need a python3 with pip (apt-get install python3-pip, or run scripts/setup.sh first)"; exit 1; }

CACHE="${CLIPKIT_CACHE:-$HOME/.cache/clipkit}/pjrt"
mkdir -p "$CACHE" "$DEST"
WHEEL="$CACHE/$WHEEL_FILE"
if [ -f "$WHEEL" ] && [ "$(sha256 "$WHEEL")" = "$WHEEL_SHA256" ]; then
  log "using cached $WHEEL"
else
  rm -f "$WHEEL"
  REQ="$(mktemp)"; trap 'rm -f "$REQ"' EXIT
  echo "$WHEEL_NAME==$WHEEL_VERSION --hash=sha256:$WHEEL_SHA256" > "$REQ"
  log "pip download $WHEEL_NAME==$WHEEL_VERSION (63 MB)"
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-cache-dir --no-deps --only-binary=:all: \
    --platform manylinux_2_27_x86_64 --implementation py --python-version 3 \
    --require-hashes -r "$REQ" -d "$CACHE"
  [ -f "$WHEEL" ] || { log "pip did not produce $WHEEL"; exit 1; }
fi

# Extract the one member to a temporary file beside the target, verify, then rename atomically.
TMP="$(mktemp "$DEST/.$PLUGIN_NAME.XXXXXX")"
trap 'rm -f "$TMP" "${REQ:-}"' EXIT
"$PYTHON" - "$WHEEL" "$MEMBER" "$TMP" <<'PYEOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PYEOF
if [ "$(sha256 "$TMP")" != "$SO_SHA256" ]; then
  log "extracted $MEMBER has an unexpected sha256; not installing"
  exit 1
fi
chmod 0755 "$TMP"
mv -f "$TMP" "$TARGET"
log "installed $TARGET ($WHEEL_NAME $WHEEL_VERSION); use GOMLX_BACKEND=xla:cpu"
build_cache_lib
