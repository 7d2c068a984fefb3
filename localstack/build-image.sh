#!/usr/bin/env bash
# Builds the LocalStack image locally and prints its name (iam-conformance/localstack-core:
# VERSION, named as what it is: not the official localstack/localstack, which needs an
# auth token and a registry). No registry is reachable here, so the base is a Debian
# trixie root fs made with debootstrap (cached) and imported; then the Dockerfile beside
# this script installs the runtime with the pins of setup-localstack.sh (the one place
# for them). Cached: an existing image is reused; `docker rmi` it to rebuild. Starts an
# engine with setup-docker.sh if none answers. See docs/emulators.md, "The LocalStack
# image recipe".
# Usage: localstack/build-image.sh [CACHE_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pin() { sed -n "s/^$1=\"\(.*\)\"$/\1/p" "$here/setup-localstack.sh"; }
version="$(pin LOCALSTACK_VERSION)"
pinned_date="$(pin PINNED_DATE)"
[ -n "$version" ] && [ -n "$pinned_date" ] || { echo "build-image: no pins in setup-localstack.sh" >&2; exit 1; }
image="iam-conformance/localstack-core:$version"
base=iam-conformance/debian-trixie-python:base
cache="${1:-${IAM_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/iam-conformance}}"
rootfs="$cache/debian-trixie-rootfs"
include=python3,python3-venv,ca-certificates
start=$SECONDS
step() { echo "build-image: [$((SECONDS - start)) s] $*" >&2; }
# Quiet: each long step logs to a file, shown only when it fails.
logged() { local log="$1"; shift; "$@" >"$log" 2>&1 || { tail -30 "$log" >&2; echo "build-image: failed, see $log" >&2; exit 1; }; }

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || "$here/setup-docker.sh"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
mkdir -p "$cache"

if ! docker image inspect "$base" >/dev/null 2>&1; then
  # The marker is written last: a root fs without it is a broken earlier run.
  if [ "$(cat "$rootfs/.installed" 2>/dev/null)" != "trixie minbase $include" ]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
      step "installing Debian's debootstrap"
      export DEBIAN_FRONTEND=noninteractive
      logged "$cache/apt-debootstrap.log" sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends debootstrap'
    fi
    step "debootstrap trixie into $rootfs (about 1 min)"
    # --one-file-system: never descend into a /proc or /sys a failed run left mounted.
    rm -rf --one-file-system "$rootfs"
    logged "$cache/debootstrap.log" debootstrap --variant=minbase --include="$include" trixie "$rootfs" http://deb.debian.org/debian
    echo "trixie minbase $include" > "$rootfs/.installed"
  fi
  step "importing the root fs as $base"
  tar -C "$rootfs" --exclude=./.installed -c . | docker import - "$base" >/dev/null
fi

step "building $image (pip install, about 1-2 min)"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$here/Dockerfile" /etc/ssl/certs/ca-certificates.crt "$context/"
logged "$cache/docker-build.log" docker build --network host -t "$image" \
  --build-arg BASE="$base" --build-arg LOCALSTACK_VERSION="$version" --build-arg PINNED_DATE="$pinned_date" "$context"
step "built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%d MB", $1 / 1e6}'))"
echo "$image"
