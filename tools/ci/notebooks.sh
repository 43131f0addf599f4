#!/usr/bin/env bash
# tools/ci/notebooks.sh: the notebook checks CI runs, from a fresh machine.
#
#   1. scripts/setup-notebooks.sh --browser (JupyterLab venv, GoNB kernel, ECharts, Chromium);
#   2. every notebooks/*.ipynb executed headless in smoke mode (CLIP_SMOKE=1) by `clipx report`,
#      which fails on any cell error; one self-contained HTML report each;
#   3. the live controls (nb/widgets) driven in JupyterLab by headless Chromium (tools/ci/livecheck):
#      notebooks 02, 08 and 05 run all cells, "banana⏎cat" typed into the classes box must give two
#      classes, a slider moved must change the chart, a query typed into 05's search panel must show
#      the server's top k with every result image loaded through jupyter-server-proxy (browser
#      token), another cell must run while the controls are live, charts must draw again after a
#      page reload; edit-to-redraw latency p50/p95 is printed (02's classes box, 05's query box);
#   4. a browser check: one exported report opened offline in headless Chromium must show a drawn
#      chart and a loaded image (a screenshot is kept), plus the browser tests of the plots package
#      and of the live panels' JavaScript (against a fake model server, without Jupyter).
#
# Output (reports, screenshot) goes to $CLIPKIT_CI_OUT (default <repo>/reports/ci, git-ignored).
# Environment: CLIPKIT_CI_CELL_TIMEOUT (default 10m), CLIPKIT_CI_SKIP_SETUP=1 to skip step 1.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
OUT="${CLIPKIT_CI_OUT:-$REPO/reports/ci}"
CELL_TIMEOUT="${CLIPKIT_CI_CELL_TIMEOUT:-10m}"
log() { echo "notebooks.sh: $*" >&2; }
passed=0; failed=0
step() { # step NAME CMD...: runs a check, counting it.
  local name="$1"; shift
  local t0=$SECONDS
  log "== $name"
  if "$@"; then passed=$((passed+1)); log "ok: $name ($((SECONDS-t0))s)"
  else failed=$((failed+1)); log "FAILED: $name ($((SECONDS-t0))s)"; fi
}

if [ "${CLIPKIT_CI_SKIP_SETUP:-0}" != 1 ]; then
  t0=$SECONDS
  bash scripts/setup-notebooks.sh --browser
  log "set-up took $((SECONDS-t0))s"
fi
export PATH="$REPO/.venv/bin:$(go env GOPATH)/bin:$PATH"
# Model servers the notebooks start (explore.Open and the live controls, clipx serve) exit after this long
# idle; clipx report stops the ones of its run itself.
export CLIPKIT_SERVE_IDLE="${CLIPKIT_SERVE_IDLE:-2m}"
rm -rf "$OUT"; mkdir -p "$OUT/bin"
go build -o "$OUT/bin/clipx" ./cmd/clipx
go build -o "$OUT/bin/browsercheck" ./tools/ci/browsercheck
go build -o "$OUT/bin/livecheck" ./tools/ci/livecheck

step "all notebooks, smoke mode (clipx report)" \
  env CLIP_SMOKE=1 "$OUT/bin/clipx" report --out "$OUT" --timeout "$CELL_TIMEOUT"

# The notebooks' model servers (nb/serve) run this clipx rather than building their own.
step "live controls in JupyterLab + headless Chromium (tools/ci/livecheck: 02-zero-shot, 08-temperature, 05-text-to-image-retrieval)" \
  env CLIP_SMOKE=1 CLIPKIT_CLIPX="$OUT/bin/clipx" "$OUT/bin/livecheck" --out "$OUT/live" --notebooks 02-zero-shot,08-temperature,05-text-to-image-retrieval

# The browser check opens the first report (00-platform-check when present).
first="$(ls "$OUT"/*.html 2>/dev/null | head -1 || true)"
if [ -n "$first" ]; then
  step "browser check of $(basename "$first")" \
    "$OUT/bin/browsercheck" --screenshot "$OUT/$(basename "$first" .html).png" "$first"
else
  failed=$((failed+1)); log "FAILED: no report to check in $OUT"
fi
step "plots and the live panels' runtime in headless Chromium (go test ./tools/ci/browsercheck ./tools/ci/livecheck)" \
  env CLIPKIT_BROWSER_TEST=1 go test -count=1 ./tools/ci/browsercheck ./tools/ci/livecheck

ls -la "$OUT" "$OUT/live" 2>/dev/null | grep -v '^total' >&2 || true
echo "notebook checks: $passed passed, $failed failed"
[ "$failed" = 0 ]
