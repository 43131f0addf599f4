#!/usr/bin/env bash
# setup.sh: the README's first command. On a fresh Debian/Ubuntu machine with Go 1.26 it installs
# everything clipkit needs, idempotently and without prompts, then runs the main job:
#
#   1. the Go modules (go mod download);
#   2. the notebook platform (scripts/setup-notebooks.sh): a venv in .venv with JupyterLab, the GoNB
#      kernel with goimports and gopls (pinned), ECharts from npm into node_modules/;
#   3. the XLA CPU plugin for the fast CPU path (scripts/install-xla-cpu.sh; optional: a failure
#      here only means GOMLX_BACKEND=xla:cpu will not be available), and the Milvus standalone server
#      for the Milvus store's tests (scripts/install-milvus.sh; optional in the same way);
#   4. the main job: `clipx demo` encodes the 8 classic CLIP demo photos and their captions with
#      ViT-B/32 on the embedded default backend (pure-Go simplego, unless $GOMLX_BACKEND says
#      otherwise) and prints the similarity matrix. Weights come from the network into the cache;
#      where it cannot be reached, the demo says so and runs on random weights, labelled as such.
#
# Options: --no-demo (skip step 4), --browser (also install Chromium, for the browser checks).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
DEMO=1
NB_ARGS=()
for arg in "$@"; do
  case "$arg" in
    --no-demo) DEMO=0 ;;
    --browser) NB_ARGS+=(--browser) ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
log() { echo "setup: $*" >&2; }

command -v go >/dev/null || { log "Go is not installed: install Go 1.26 (https://go.dev/dl/) and retry"; exit 1; }
want="$(awk '/^go /{print $2}' go.mod)"
have="$(go env GOVERSION | sed 's/^go//')"
case "$have" in "${want%.*}"*) ;; *) log "warning: go.mod asks for Go $want, this is Go $have" ;; esac

log "1/4 Go modules"
go mod download
log "2/4 notebook platform (JupyterLab, GoNB kernel, ECharts)"
bash scripts/setup-notebooks.sh "${NB_ARGS[@]}"
log "3/4 XLA CPU plugin (fast path: GOMLX_BACKEND=xla:cpu)"
bash scripts/install-xla-cpu.sh || log "warning: the XLA CPU plugin could not be installed; the pure-Go backend still works"
log "3b/4 Milvus standalone server for the Milvus store's tests (pinned milvus==2.3.5 wheel into the venv)"
bash scripts/install-milvus.sh || log "warning: Milvus could not be installed; the in-process search store still works (scripts/test.sh will report the Milvus tests as failed)"
if [ "$DEMO" = 1 ]; then
  log "4/4 main job: clipx demo"
  go run ./cmd/clipx demo
fi
cat >&2 <<MSG
setup: done. Next:
  go run ./cmd/clipx help                      # the command-line tool
  source .venv/bin/activate && jupyter lab notebooks/   # the notebooks
  GOMLX_BACKEND=xla:cpu go run ./cmd/clipx demo  # the same on XLA's CPU backend (much faster)
MSG
