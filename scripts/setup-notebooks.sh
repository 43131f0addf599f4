#!/usr/bin/env bash
# setup-notebooks.sh: installs everything the notebooks and `clipx report` need, idempotently and
# without prompts, on a fresh Debian machine or in CI:
#
#   1. a Python venv at $CLIPKIT_VENV (default: <repo>/.venv, git-ignored) with JupyterLab,
#      Notebook 7, nbconvert, nbclient and jupyter-server-proxy (browser widgets reach the model
#      server, `clipx serve`, at <jupyter>/proxy/PORT/; docs/serve.md) pinned from PyPI; if PyPI cannot be reached it falls back
#      to Debian's packages (jupyter-notebook, jupyter-nbconvert, python3-nbclient, jupyter-client)
#      via a venv created with --system-site-packages (enough for `clipx report`; JupyterLab and
#      `clipx report --live` need the PyPI set-up);
#   2. GoNB (version taken from go.mod), goimports and gopls (pinned) with `go install`, into
#      $(go env GOPATH)/bin;
#   3. the GoNB kernelspec (`gonb --install`), written into the venv's data dir
#      (<venv>/share/jupyter/kernels/gonb) so only the venv's Jupyter sees it (Debian fallback:
#      ~/.local/share/jupyter/kernels/gonb), with a PATH that has go, goimports and gopls;
#   4. echarts@5.4.3 from npm into <repo>/node_modules (git-ignored), pinned by the committed
#      package.json + package-lock.json (`npm ci`); nb/plots inlines it into notebook output.
#   5. with --browser (or CLIPKIT_BROWSER=1): Debian's chromium, for the browser checks
#      (tools/ci/browsercheck, tools/ci/livecheck) and GoNB's nbexec (`clipx report --live`).
#
# Afterwards: `source .venv/bin/activate` (or put .venv/bin and $(go env GOPATH)/bin on PATH) and run
# `jupyter lab notebooks/`.
#
# Environment: CLIPKIT_VENV (venv path), CLIPKIT_NO_PYPI=1 (go straight to Debian's packages).
set -euo pipefail

# Pinned versions. GoNB's version is read from go.mod so the kernel matches the gonbui library.
JUPYTERLAB_VERSION=4.6.6
NOTEBOOK_VERSION=7.6.5
NBCONVERT_VERSION=7.17.2
NBCLIENT_VERSION=0.11.0
JUPYTER_SERVER_PROXY_VERSION=4.6.0   # /proxy/PORT/ to the model server (clipx serve)
GOIMPORTS_VERSION=v0.44.0   # golang.org/x/tools; builds with Go 1.26
GOPLS_VERSION=v0.21.1       # golang.org/x/tools/gopls; builds with Go 1.26
# Debian's packages for the fallback (bookworm: notebook 6.4, nbconvert 6.5, nbclient 0.7);
# jupyter-client brings the `jupyter kernelspec` command.
DEBIAN_JUPYTER="jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLIPKIT_VENV:-$REPO/.venv}"
WANT_BROWSER="${CLIPKIT_BROWSER:-0}"
for arg in "$@"; do
  case "$arg" in
    --browser) WANT_BROWSER=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "setup-notebooks.sh: unknown argument $arg (want --browser)" >&2; exit 2 ;;
  esac
done

log() { echo "setup-notebooks: $*" >&2; }
export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  local SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- 1. Python venv with Jupyter ---------------------------------------------------------------
PY=/usr/bin/python3
[ -x "$PY" ] || PY="$(command -v python3)"
jupyter_ok() {
  "$VENV/bin/python" - "$@" <<'PYEOF' 2>/dev/null
import sys, importlib.metadata as md
want = dict(a.split("=", 1) for a in sys.argv[1:])
for pkg, ver in want.items():
    have = md.version(pkg)
    if ver != "*" and have != ver:
        sys.exit(1)
PYEOF
}
if [ -x "$VENV/bin/jupyter" ] && jupyter_ok jupyterlab=$JUPYTERLAB_VERSION notebook=$NOTEBOOK_VERSION \
      nbconvert=$NBCONVERT_VERSION nbclient=$NBCLIENT_VERSION; then
  log "venv $VENV already has the pinned Jupyter"
  if ! jupyter_ok jupyter-server-proxy=$JUPYTER_SERVER_PROXY_VERSION; then
    log "installing jupyter-server-proxy $JUPYTER_SERVER_PROXY_VERSION from PyPI"
    "$VENV/bin/pip" install -q --disable-pip-version-check "jupyter-server-proxy==$JUPYTER_SERVER_PROXY_VERSION" ||
      log "WARNING: jupyter-server-proxy could not be installed: live widgets cannot reach the model server from the browser"
  fi
elif [ -x "$VENV/bin/jupyter" ] && [ -f "$VENV/.clipkit-debian" ] && jupyter_ok nbconvert='*' nbclient='*'; then
  log "venv $VENV uses Debian's Jupyter packages (fallback); keeping it"
  apt_install $DEBIAN_JUPYTER
else
  pypi_ok=0
  if [ "${CLIPKIT_NO_PYPI:-0}" != 1 ]; then
    if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then apt_install python3-venv; fi
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    log "installing JupyterLab $JUPYTERLAB_VERSION, notebook $NOTEBOOK_VERSION, nbconvert $NBCONVERT_VERSION, nbclient $NBCLIENT_VERSION, jupyter-server-proxy $JUPYTER_SERVER_PROXY_VERSION from PyPI"
    if "$VENV/bin/pip" install -q --disable-pip-version-check \
         "jupyterlab==$JUPYTERLAB_VERSION" "notebook==$NOTEBOOK_VERSION" \
         "nbconvert==$NBCONVERT_VERSION" "nbclient==$NBCLIENT_VERSION" \
         "jupyter-server-proxy==$JUPYTER_SERVER_PROXY_VERSION"; then
      pypi_ok=1
    else
      log "PyPI install failed; falling back to Debian's packages"
    fi
  fi
  if [ "$pypi_ok" = 0 ]; then
    apt_install python3-venv $DEBIAN_JUPYTER
    rm -rf "$VENV"
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
    touch "$VENV/.clipkit-debian"
    # Debian's entry points live in /usr/bin; give the venv a `jupyter` too, so that
    # $VENV/bin/jupyter works in both set-ups (clipx report looks there first).
    [ -x "$VENV/bin/jupyter" ] || ln -sf /usr/bin/jupyter "$VENV/bin/jupyter"
  fi
fi

# --- 2. GoNB, goimports, gopls ----------------------------------------------------------------
command -v go >/dev/null || { log "Go is not installed (need Go 1.26)"; exit 1; }
GOBIN_DIR="$(go env GOBIN)"; [ -n "$GOBIN_DIR" ] || GOBIN_DIR="$(go env GOPATH)/bin"
GONB_VERSION="$(cd "$REPO" && go list -m -f '{{.Version}}' github.com/janpfeifer/gonb)"
# installed_version <binary> <module>: the version of <module> that $GOBIN_DIR/<binary> was built from.
installed_version() {
  [ -x "$GOBIN_DIR/$1" ] || return 0
  go version -m "$GOBIN_DIR/$1" 2>/dev/null | awk -v m="$2" '($1=="mod"||$1=="dep") && $2==m {print $3; exit}'
}
# go_install <module> <version> <package>...: installs the packages at exactly that module version.
# It builds them inside a throw-away module rather than with `go install pkg@version`, because
# the module proxy refuses the version-list (deprecation) look-up that `go install pkg@version`
# makes for some modules (GoNB among them), while `go get module@version` works.
go_install() {
  local mod="$1" ver="$2"; shift 2
  local pkg todo=()
  for pkg in "$@"; do
    if [ "$(installed_version "$(basename "$pkg")" "$mod")" = "$ver" ]; then
      log "$(basename "$pkg") ($mod $ver) already installed"
    else todo+=("$pkg"); fi
  done
  [ "${#todo[@]}" -gt 0 ] || return 0
  log "go install ${todo[*]} ($mod $ver)"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && go mod init clipkit-setup-tools >/dev/null 2>&1 && \
     go get "$mod@$ver" >/dev/null 2>&1 || go get "$mod@$ver") && \
  (cd "$tmp" && GOFLAGS="${GOFLAGS:-} -mod=mod" go install "${todo[@]}")
  local rc=$?
  rm -rf "$tmp"
  return $rc
}
go_install github.com/janpfeifer/gonb "$GONB_VERSION" \
  github.com/janpfeifer/gonb github.com/janpfeifer/gonb/cmd/nbexec
go_install golang.org/x/tools "$GOIMPORTS_VERSION" golang.org/x/tools/cmd/goimports
go_install golang.org/x/tools/gopls "$GOPLS_VERSION" golang.org/x/tools/gopls

# --- 3. Kernel registration -------------------------------------------------------------------
export PATH="$VENV/bin:$GOBIN_DIR:$PATH"
# gonb --install writes into $JUPYTER_DATA_DIR/kernels/gonb (default ~/.local/share/jupyter). With
# the PyPI venv we point it at the venv, so the kernelspec lives (and is removed) with the venv and
# only the venv's Jupyter sees it. Debian's jupyter commands run with /usr/bin/python3 and do not
# search the venv, so the fallback registers the kernel for the user instead.
if [ -f "$VENV/.clipkit-debian" ]; then
  KDATA="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}"
else
  KDATA="$VENV/share/jupyter"
fi
KDIR="$KDATA/kernels/gonb"
JUPYTER_DATA_DIR="$KDATA" gonb --install >/dev/null 2>&1 || JUPYTER_DATA_DIR="$KDATA" gonb --install
[ -f "$KDIR/kernel.json" ] || { log "gonb --install did not write $KDIR/kernel.json"; exit 1; }
# The kernel runs `go`, `goimports` and `gopls`: record a PATH that has them, so the kernel works
# even when JupyterLab is started from a shell that lacks GOPATH/bin.
KPATH="$GOBIN_DIR:$(dirname "$(command -v go)"):/usr/local/bin:/usr/bin:/bin"
"$VENV/bin/python" - "$KDIR/kernel.json" "$KPATH" <<'PYEOF'
import json, sys
path, kpath = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
spec.setdefault("env", {})["PATH"] = kpath
json.dump(spec, open(path, "w"), indent=1)
PYEOF
# (Captured first: `jupyter ... | grep -q` would fail under pipefail when grep exits early.)
specs="$("$VENV/bin/jupyter" kernelspec list 2>&1 || true)"
if ! grep -q '^ *gonb ' <<<"$specs"; then
  log "$VENV/bin/jupyter does not list the gonb kernel:"; echo "$specs" >&2; exit 1
fi
log "GoNB kernel registered at $KDIR"

# --- 4. ECharts from npm ----------------------------------------------------------------------
ECHARTS_JS="$REPO/node_modules/echarts/dist/echarts.min.js"
if [ -f "$ECHARTS_JS" ] && grep -q '"version": "5.4.3"' "$REPO/node_modules/echarts/package.json"; then
  log "echarts 5.4.3 already in node_modules"
else
  command -v npm >/dev/null || apt_install npm
  log "npm ci (echarts 5.4.3)"
  (cd "$REPO" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
[ -f "$ECHARTS_JS" ] || { log "missing $ECHARTS_JS after npm ci"; exit 1; }

# --- 5. Chromium (optional) -------------------------------------------------------------------
if [ "$WANT_BROWSER" = 1 ]; then
  if command -v chromium >/dev/null; then log "chromium already installed"; else
    log "apt-get install chromium"; apt_install chromium fonts-dejavu-core; fi
fi

log "done. PATH for notebooks: $VENV/bin:$GOBIN_DIR"
if [ -f "$VENV/.clipkit-debian" ]; then log "start: $VENV/bin/jupyter notebook $REPO/notebooks"; else log "start: $VENV/bin/jupyter lab $REPO/notebooks"; fi
