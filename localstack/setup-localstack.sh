#!/usr/bin/env bash
# Installs the open-source LocalStack runtime (PyPI localstack-core 2026.3.0, the last
# open-source release) into a cached venv and prints the venv's path. It needs Python
# >= 3.12 and its dependencies as they were on its release date (newer cbor2/pyopenssl
# crash it): see docs/emulators.md, "LocalStack (open-source runtime)". Idempotent.
# Usage: localstack/setup-localstack.sh [CACHE_DIR]
set -euo pipefail
LOCALSTACK_VERSION="2026.3.0"
PINNED_DATE="2026-03-26T00:00:00Z"
cache="${1:-${IAM_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/iam-conformance}}"
venv="$cache/localstack-$LOCALSTACK_VERSION"
marker="$venv/.installed"
want="localstack-core[runtime]==$LOCALSTACK_VERSION uploaded-prior-to $PINNED_DATE"
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then
  echo "$venv"
  exit 0
fi
python=""
for candidate in "${IAM_CONFORMANCE_PYTHON312:-}" python3.13 python3.12 "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3; do
  [ -n "$candidate" ] || continue
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "setup-localstack: no Python >= 3.12 found (set IAM_CONFORMANCE_PYTHON312)" >&2
  exit 1
fi
mkdir -p "$cache"
# The marker is written last: a venv without it is a broken earlier install.
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check -U 'pip>=26' >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check --uploaded-prior-to "$PINNED_DATE" "localstack-core[runtime]==$LOCALSTACK_VERSION" >&2
echo "$want" > "$marker"
echo "$venv"
