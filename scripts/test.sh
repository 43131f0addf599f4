#!/usr/bin/env bash
# test.sh: the README's second command, and what CI runs (.ci/run). It installs what the tests
# need (idempotent: the notebook platform with Chromium, the XLA CPU plugin), then runs:
#
#   1. gofmt and go vet;
#   2. every Go test on simplego (GOMLX_BACKEND=go: the automatic choice would be xla:cpu), -short (full-size parity tests run
#      without -short when their generated reference files exist);
#   2b. the Milvus store against a real Milvus standalone server (scripts/test-milvus.sh);
#   3. the XLA CPU backend: plugin check, and the encoder and facade tests again on xla:cpu;
#   3b. the model server's process tests (nb/serve: builds clipx, starts servers and a Jupyter
#      server with jupyter-server-proxy);
#   4. every notebook in smoke mode, widgets with a live front end, and the offline browser check
#      of an exported report (tools/ci/notebooks.sh);
#   5. the Docker files' lint (docker/lint.sh) and the GPU check script's CPU dry run.
#
# Environment: CLIPKIT_TEST_SKIP_SETUP=1 skips the installs.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
failed=()
t0=$SECONDS
run() { # run NAME CMD...
  local name="$1"; shift
  local s=$SECONDS
  echo "=== $name" >&2
  if "$@"; then echo "--- ok: $name ($((SECONDS-s))s)" >&2
  else echo "--- FAILED: $name ($((SECONDS-s))s)" >&2; failed+=("$name"); fi
}

if [ "${CLIPKIT_TEST_SKIP_SETUP:-0}" != 1 ]; then
  run "set-up" bash scripts/setup.sh --no-demo --browser
  if command -v apt-get >/dev/null && [ ! -d /usr/share/datasets/fashion-mnist ]; then
    # Fashion-MNIST from Debian: the data tests read the real files when present.
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null 2>&1 || true
  fi
fi

run "gofmt" bash -c 'out="$(gofmt -l $(git ls-files "*.go"))"; [ -z "$out" ] || { echo "gofmt would change: $out"; exit 1; }'
run "go vet" go vet ./...
run "README's package table matches the code" go run ./tools/docs/layout -check
run "go test (simplego)" env GOMLX_BACKEND=go go test -short -count=1 ./...
run "Milvus store against a real server" bash scripts/test-milvus.sh
if bash scripts/install-xla-cpu.sh --check >/dev/null 2>&1; then
  run "XLA CPU plugin" env CLIPKIT_REQUIRE_XLA_CPU=1 go test -count=1 ./cliplib/backend/
  run "encoder, facade and MobileCLIP towers on xla:cpu" env CLIPKIT_TEST_BACKEND=xla:cpu go test -short -count=1 ./cliplib/encoder/ ./cliplib/ ./cliplib/model/mobileclip/
else
  echo "--- FAILED: the XLA CPU plugin is not installed (scripts/install-xla-cpu.sh)" >&2; failed+=("xla:cpu plugin")
fi
run "model server: start, attach, crash, idle exit, through jupyter-server-proxy" env GOMLX_BACKEND=go CLIPKIT_PROXY_TEST=1 go test -count=1 ./nb/serve/
run "notebooks (smoke), widgets, browser check" env CLIPKIT_CI_SKIP_SETUP=1 bash tools/ci/notebooks.sh
run "docker lint" bash docker/lint.sh
run "GPU check script, CPU dry run" bash scripts/gpu-check.sh --dry-run --out "$REPO/reports/gpu-dry-run"

echo "test.sh: $((SECONDS-t0))s" >&2
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'test.sh: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "test.sh: all passed" >&2
