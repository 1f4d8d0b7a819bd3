#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock.
#
# If `docker info` fails: installs Debian's docker.io when there is no dockerd,
# then starts the engine (systemd when it is PID 1, otherwise dockerd in the
# background, log in .tools/dockerd.log) and waits up to
# HARDGEN_DOCKERD_TIMEOUT seconds (default 60) for it to answer. Prints the
# versions and the facts the live tests depend on. Leaves the engine running.
#
# Environment:
#   HARDGEN_DOCKERD_FLAGS   extra flags for dockerd when this script starts it
#                           (e.g. "--userland-proxy=false"). Ignored when an
#                           engine is already running.
#   HARDGEN_DOCKERD_TIMEOUT seconds to wait (default 60).
#
# Facts seen on this machine kind (Debian 12, docker.io 20.10.24):
#   no systemd (PID 1 is not systemd): dockerd is started by hand; it runs its
#   own containerd. overlay2 on ext4, cgroupfs driver, cgroup v1, iptables
#   1.8.9 nf_tables backend, DOCKER-USER chain present, /usr/bin/docker-init
#   -> tini-static. The image's /usr/local/bin/docker (28.x client) negotiates
#   the API down to 1.41 by itself: no DOCKER_API_VERSION needed. Do NOT set
#   DOCKER_BUILDKIT=1 with that client (no buildx: it refuses to build); the
#   legacy builder works, and `docker compose build` uses the engine's BuildKit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
LOG="$TOOLS/dockerd.log"
TIMEOUT="${HARDGEN_DOCKERD_TIMEOUT:-60}"
PATH="$PATH:/usr/sbin:/sbin"

log() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

engine_up() { docker info >/dev/null 2>&1; }

# A pid file left by an engine that died with the machine (/run is not a
# tmpfs here) blocks the next start when its pid now belongs to someone else.
clear_stale_pidfile() {
  local f=$1 name=$2 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$name" ]; then
    return 0
  fi
  log "removing stale $f (pid ${pid:-?})"
  rm -f "$f"
}

start_engine() {
  if ! command -v dockerd >/dev/null 2>&1; then
    log "no dockerd: installing docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io </dev/null >/dev/null
  fi
  if [ -d /run/systemd/system ] && [ "$(cat /proc/1/comm)" = systemd ]; then
    log "starting docker.service (systemd)"
    systemctl start docker
    return 0
  fi
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd already running but not answering yet"
    return 0
  fi
  clear_stale_pidfile /var/run/docker.pid dockerd
  clear_stale_pidfile /var/run/docker/containerd/containerd.pid containerd
  mkdir -p "$TOOLS"
  log "starting dockerd ${HARDGEN_DOCKERD_FLAGS:-} (log: $LOG)"
  # shellcheck disable=SC2086 # flags are meant to split
  setsid nohup dockerd ${HARDGEN_DOCKERD_FLAGS:-} >>"$LOG" 2>&1 </dev/null &
  disown || true
}

wait_engine() {
  local i
  for ((i = 0; i < TIMEOUT * 2; i++)); do
    engine_up && return 0
    sleep 0.5
  done
  [ -f "$LOG" ] && tail -n 30 "$LOG" >&2
  die "docker engine did not answer within ${TIMEOUT}s"
}

report() {
  docker version --format 'client {{.Client.Version}} (API {{.Client.APIVersion}}), engine {{.Server.Version}} (API {{.Server.APIVersion}}, min {{.Server.MinAPIVersion}})'
  docker info --format 'storage {{.Driver}}, cgroup {{.CgroupDriver}} v{{.CgroupVersion}}, init {{.InitBinary}}, security {{.SecurityOptions}}'
  printf 'compose: %s\n' "$(docker compose version --short 2>/dev/null || echo missing)"
  printf 'iptables: %s\n' "$(iptables -V 2>/dev/null || echo missing)"
  if iptables -w -S DOCKER-USER >/dev/null 2>&1; then
    echo 'DOCKER-USER chain: present'
  else
    echo 'DOCKER-USER chain: absent'
  fi
  if [ -x /usr/bin/docker-init ]; then
    echo "docker-init: $(readlink -f /usr/bin/docker-init)"
  else
    echo 'docker-init: missing (init: true will fail)'
  fi
}

main() {
  if ! engine_up; then
    start_engine
    wait_engine
  fi
  report
}

main "$@"
