#!/usr/bin/env bash
# milvus-server.sh: starts or stops a real Milvus standalone server (scripts/install-milvus.sh) on
# loopback, on free ports, with its data in DIR, for the Milvus store's tests and benchmarks.
#
#   scripts/milvus-server.sh start DIR   # waits until healthy; prints and writes DIR/env:
#                                        #   CLIPKIT_MILVUS_ADDR=127.0.0.1:PORT, CLIPKIT_MILVUS_SERVER, CLIPKIT_MILVUS_PGID
#   scripts/milvus-server.sh stop DIR    # stops the server started in DIR
#
# Then: set -a; . DIR/env; set +a; go test -count=1 ./cliplib/search/milvus/
# Exit status 1 when the server is not installed or not healthy within 3 minutes.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
[ $# -eq 2 ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
export CLIPKIT_MILVUS_SERVER="${CLIPKIT_MILVUS_SERVER:-$(bash scripts/install-milvus.sh --print-path)}"
if [ "$1" = start ] && [ ! -x "$CLIPKIT_MILVUS_SERVER" ]; then
  echo "milvus-server.sh: $CLIPKIT_MILVUS_SERVER is not installed (scripts/install-milvus.sh)" >&2; exit 1
fi
mkdir -p "$2"
exec go run ./tools/milvus-server "$1" "$2"
