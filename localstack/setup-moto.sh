#!/usr/bin/env bash
# Installs the pinned moto server into a cached venv and prints the venv's path.
# Idempotent: a venv whose marker matches the pinned version is reused.
# Usage: localstack/setup-moto.sh [CACHE_DIR]
set -euo pipefail
MOTO_VERSION="5.2.5"
cache="${1:-${IAM_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/iam-conformance}}"
venv="$cache/moto-$MOTO_VERSION"
marker="$venv/.installed"
if [ -f "$marker" ] && [ "$(cat "$marker")" = "moto[server]==$MOTO_VERSION" ] && [ -x "$venv/bin/moto_server" ]; then
  echo "$venv"
  exit 0
fi
mkdir -p "$cache"
# The marker is written last: a venv without it is a broken earlier install.
rm -rf "$venv"
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
echo "moto[server]==$MOTO_VERSION" > "$marker"
echo "$venv"
