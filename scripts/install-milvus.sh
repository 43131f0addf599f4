#!/usr/bin/env bash
# install-milvus.sh: installs the real Milvus standalone server for the Milvus store's tests and
# benchmarks: PyPI's `milvus` package 2.3.5 (Milvus 2.3.5 "lite": the milvus binary with embedded
# etcd and local storage, started by `milvus-server --data DIR`), pinned by sha256, into the
# project's venv (default <repo>/.venv, made by scripts/setup-notebooks.sh). Idempotent; linux/x86-64.
#
# Options: --check (exit 1 unless the pinned version is installed), --print-path (the command).
# Environment: CLIPKIT_VENV (venv path).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLIPKIT_VENV:-$REPO/.venv}"
VERSION=2.3.5
SHA256=69515a0630ce29fd10e101fa442afea8ca1387b93a456cd9bd41fdf3deb93d04 # milvus-2.3.5-py3-none-manylinux2014_x86_64.whl
BIN="$VENV/bin/milvus-server"
log() { echo "install-milvus: $*" >&2; }

installed() {
  [ -x "$BIN" ] && [ "$("$VENV/bin/python" -c 'import milvus; print(milvus.__version__)' 2>/dev/null)" = "$VERSION" ]
}
case "${1:-}" in
  --check) installed; exit ;;
  --print-path) echo "$BIN"; exit 0 ;;
  "") ;;
  *) log "unknown argument $1"; exit 2 ;;
esac
if installed; then log "milvus $VERSION already in $VENV"; exit 0; fi
[ "$(uname -sm)" = "Linux x86_64" ] || { log "the milvus $VERSION wheel is for Linux x86-64 only (this is $(uname -sm))"; exit 1; }
[ -x "$VENV/bin/pip" ] || { log "no venv at $VENV (run scripts/setup-notebooks.sh first, or set CLIPKIT_VENV)"; exit 1; }
req="$(mktemp)"; trap 'rm -f "$req"' EXIT
echo "milvus==$VERSION --hash=sha256:$SHA256" > "$req"
"$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps -r "$req"
installed || { log "milvus $VERSION did not install into $VENV"; exit 1; }
log "installed milvus $VERSION: $BIN"
