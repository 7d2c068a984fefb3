#!/usr/bin/env bash
# Makes sure a Docker engine answers, and says how (on stderr). An engine that already
# answers (DOCKER_HOST, or the default socket) is used as it is and never touched: a
# developer's or CI's own engine, with its bridge and mapped ports. Otherwise (this
# project's machines: no systemd, no reachable image registry) it installs Debian's
# docker.io if dockerd is missing and starts dockerd by hand on host networking only
# (no bridge, no NAT rules), with its own data root, log and pid file. Idempotent.
# See docs/emulators.md, "A Docker engine on this machine kind".
#
# API versions: bookworm's engine is 20.10 (API 1.41). The docker CLI negotiates down to
# it by itself (the machine image's 28.x client in /usr/local/bin as well as Debian's
# /usr/bin/docker), so DOCKER_API_VERSION must stay unset: any value above 1.41 makes
# every call fail ("client version 1.44 is too new"). bollard 0.20 (testcontainers 0.27)
# does not read DOCKER_API_VERSION nor negotiate, and passes API 1.52, which this engine
# rejects; it works only because its requests carry no version prefix (a bollard quirk,
# fixed upstream after 0.21.1: a bollard with that fix would fail here).
#
# Stop an engine it started with: kill "$(cat /var/run/iam-conformance-dockerd.pid)"
# dockerd bind-mounts its data root onto itself and leaves it so: umount it before rm.
# Usage: localstack/setup-docker.sh
set -euo pipefail
data_root="${IAM_CONFORMANCE_DOCKER_ROOT:-/var/lib/iam-conformance-docker}"
pidfile=/var/run/iam-conformance-dockerd.pid
log=/var/log/iam-conformance-dockerd.log
socket=unix:///var/run/docker.sock

# `docker version`, not `docker info`: the 28.x client's `docker info --format` exits 0
# even when the engine rejects the call.
answers() { local v; v="$(docker version --format '{{.Server.Version}}' 2>/dev/null)" && [ -n "$v" ] && echo "$v"; }
ours() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

if version="$(answers)"; then
  if ours; then
    echo "setup-docker: engine $version answers at $socket (started here: pid $(cat "$pidfile"), data root $data_root, log $log)" >&2
  else
    echo "setup-docker: engine $version answers at ${DOCKER_HOST:-the default socket}; left as it is" >&2
  fi
  exit 0
fi
if [ -n "${DOCKER_HOST:-}" ]; then
  # A local engine would not help a client pointed elsewhere.
  echo "setup-docker: DOCKER_HOST=$DOCKER_HOST does not answer: $(docker version 2>&1 >/dev/null | tail -1)" >&2
  exit 1
fi

# A dockerd of ours may still be starting (a second call right after the first):
# wait for it rather than start another on the same socket.
if ! ours; then
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "setup-docker: installing Debian's docker.io" >&2
    # The image's policy-rc.d keeps the package from starting its own dockerd.
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q --no-install-recommends docker.io; } \
      >/var/log/iam-conformance-apt.log 2>&1 \
      || { tail -20 /var/log/iam-conformance-apt.log >&2; exit 1; }
  fi
  mkdir -p "$data_root"
  # setsid: the engine outlives this script and its process group. dockerd writes the
  # pid file itself, and refuses to start while it names a live dockerd.
  setsid dockerd --iptables=false --bridge=none --data-root "$data_root" \
    --host "$socket" --pidfile "$pidfile" >>"$log" 2>&1 </dev/null &
fi

for _ in $(seq 60); do
  if version="$(answers)"; then
    echo "setup-docker: started engine $version: pid $(cat "$pidfile"), socket $socket, data root $data_root, log $log" >&2
    exit 0
  fi
  sleep 1
done
echo "setup-docker: no answer within 60 s: $(docker version 2>&1 >/dev/null | tail -1); see $log" >&2
exit 1
