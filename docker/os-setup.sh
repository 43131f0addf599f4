#!/usr/bin/env bash
# os-setup.sh: the root-only part of the clipkit image (docker/Dockerfile), for Debian 12 and
# Ubuntu 24.04 bases: the Debian packages that scripts/setup.sh would otherwise install with
# sudo, tini (the init GoNB's image also uses), and the notebook user.
#
# Usage (as root): os-setup.sh USER UID
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: os-setup.sh USER UID" >&2; exit 2; }
user="$1" uid="$2"
[ "$(id -u)" = 0 ] || { echo "os-setup.sh must run as root" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# gcc/g++/libc6-dev: cgo (go-xla, and GoNB cells that import it); python3-venv: the Jupyter venv;
# npm: echarts for the notebooks' plots; git: Go modules fetched from VCS; tini: PID 1.
apt-get install -y -qq --no-install-recommends \
  ca-certificates curl git gcc g++ libc6-dev python3 python3-venv npm tini >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/*

# The notebook user (Jupyter's conventional jovyan, group users = GID 100) with the given UID,
# which the Dockerfile uses numerically. Ubuntu images ship a user "ubuntu" with UID 1000: it is
# removed, as Jupyter's docker-stacks do.
owner="$(getent passwd "$uid" | cut -d: -f1 || true)"
if [ "$owner" = ubuntu ] && [ "$user" != ubuntu ]; then
  userdel --remove ubuntu >/dev/null 2>&1 || userdel ubuntu
  owner=""
fi
if [ -n "$owner" ] && [ "$owner" != "$user" ]; then
  echo "os-setup.sh: UID $uid already belongs to $owner; pass another NB_UID" >&2
  exit 1
fi
if ! id "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash --uid "$uid" --gid users "$user"
fi
