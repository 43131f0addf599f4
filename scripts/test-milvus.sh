#!/usr/bin/env bash
# test-milvus.sh: the Milvus store's tests against a real server (scripts/test.sh runs it). It starts
# Milvus standalone (scripts/install-milvus.sh installs it) on loopback with a temporary data
# directory, runs the tests that need a server with CLIPKIT_MILVUS_ADDR / CLIPKIT_MILVUS_SERVER set
# (conformance with the in-process index, recall, filters, delete, crash and resume, the clipx
# store commands and the side-by-side benchmark at a tiny size), then stops it. A server that
# cannot be installed or started is a failure, not a skip.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/install-milvus.sh --check || { echo "test-milvus: Milvus is not installed (scripts/install-milvus.sh)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'bash scripts/milvus-server.sh stop "$tmp" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
bash scripts/milvus-server.sh start "$tmp" >/dev/null || { echo "test-milvus: the Milvus server did not start" >&2; exit 1; }
set -a; . "$tmp/env"; set +a
# Both packages at once: the crash test mostly waits (client retries, ports in TIME_WAIT, recovery).
go test -short -count=1 -run 'SearchEmbed|BenchStore' ./cmd/clipx/ > "$tmp/clipx.log" 2>&1 &
clipx=$!
go test -count=1 -timeout 10m ./cliplib/search/milvus/...
rc=$?
wait "$clipx" || rc=1
cat "$tmp/clipx.log"
exit "$rc"
