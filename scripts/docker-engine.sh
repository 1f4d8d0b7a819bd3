#!/usr/bin/env bash
# Makes sure the Docker engine a run asks for answers on /var/run/docker.sock.
#
#   HARDGEN_ENGINE=20.10 scripts/docker-engine.sh   Debian 12's docker.io (default)
#   HARDGEN_ENGINE=28    scripts/docker-engine.sh   Debian unstable's docker.io 28.x
#   scripts/docker-engine.sh --stop                 stop whichever engine runs
#   scripts/docker-engine.sh --fetch-28             only fetch and unpack Engine 28
#
# One engine at a time. When the running engine is not the one asked for, it is
# stopped cleanly first: its containers stopped and removed, dockerd and its
# containerd gone, then its iptables/ip6tables chains and rules and its bridges
# removed (Docker keeps its networks in its data root and recreates them when it
# starts again). When no engine runs, the chains and bridges a dead one left (killed,
# or the machine stopped under it) are removed before the asked-for one starts. Each
# engine keeps its own data root, so images are per engine: run scripts/test-images.sh
# after switching.
#
# Engine 20.10: installs Debian's docker.io when there is no dockerd, then starts
#   it (systemd when it is PID 1, otherwise dockerd in the background, log in
#   .tools/dockerd.log). Data root /var/lib/docker.
# Engine 28: Debian 12 has no Engine 28, and Debian unstable's packages must not
#   be installed here (apt would upgrade libc and half the system). So the
#   packages `docker.io` (the newest 28.x) and `containerd` (2.x) are fetched by
#   name and version with `apt-get download` under a PRIVATE apt configuration
#   (its own sources list with Debian unstable and testing, sid and forky, so
#   that 28.x stays reachable a while after unstable moves on; no sources.list.d,
#   its own lists and cache under .tools/engine-28/apt), unpacked with
#   `dpkg-deb -x` into .tools/engine-28/root, and that dockerd is started with
#   the unpacked containerd and containerd-shim-runc-v2 first on PATH. runc stays
#   Debian 12's 1.1.5 (unstable's needs glibc 2.38) and docker-init Debian 12's
#   tini-static (the unpacked docker-init is a symlink to a tini this does not
#   unpack). Data root /var/lib/docker-28, exec root /var/run/docker-28, log in
#   .tools/dockerd-28.log. Fetched once; HARDGEN_ENGINE_REFETCH=1 fetches again.
#
# Waits up to HARDGEN_DOCKERD_TIMEOUT seconds (default 60) for the engine to
# answer, prints the versions and the facts the live tests depend on, and leaves
# the engine running.
#
# Environment:
#   HARDGEN_ENGINE          20.10 (default) or 28.
#   HARDGEN_DOCKERD_FLAGS   extra flags for dockerd when this script starts it
#                           (e.g. "--userland-proxy=false"). Ignored when the
#                           asked-for engine is already running.
#   HARDGEN_DOCKERD_TIMEOUT seconds to wait (default 60).
#   HARDGEN_ENGINE_MIRROR   Debian mirror for Engine 28 (default deb.debian.org).
#
# Facts seen on this machine kind (Debian 12, docker.io 20.10.24):
#   no systemd (PID 1 is not systemd): dockerd is started by hand; it runs its
#   own containerd. overlay2 on ext4, cgroupfs driver, cgroup v1, iptables
#   1.8.9 nf_tables backend, DOCKER-USER chain present, /usr/bin/docker-init
#   -> tini-static. The image's /usr/local/bin/docker (28.x client) negotiates
#   the API down to 1.41 by itself: no DOCKER_API_VERSION needed. Do NOT set
#   DOCKER_BUILDKIT=1 with that client (no buildx: it refuses to build); the
#   legacy builder works, and `docker compose build` uses the engine's BuildKit.
# With Engine 28.5.2 (containerd 2.1.9, runc 1.1.5): filter table chains DOCKER,
#   DOCKER-BRIDGE, DOCKER-CT, DOCKER-FORWARD, DOCKER-ISOLATION-STAGE-1/2,
#   DOCKER-USER (FORWARD jumps to DOCKER-USER first, then DOCKER-FORWARD).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
TIMEOUT="${HARDGEN_DOCKERD_TIMEOUT:-60}"
ENGINE="${HARDGEN_ENGINE:-20.10}"
PATH="$PATH:/usr/sbin:/sbin"

E28="$TOOLS/engine-28"
E28_ROOT="$E28/root"
E28_DATA=/var/lib/docker-28
E28_EXEC=/var/run/docker-28
PIDFILE=/var/run/docker.pid

log() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

engine_up() { docker info >/dev/null 2>&1; }
server_version() { docker version --format '{{.Server.Version}}' 2>/dev/null || true; }

# Whether a server version is the engine line asked for (20.10 or 28).
is_engine() { # is_engine VERSION ENGINE
  case "$2" in
    20.10) [[ "$1" == 20.10.* ]] ;;
    28) [[ "$1" == 28.* ]] ;;
    *) return 1 ;;
  esac
}

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

# Starts a daemon in its own session with only stdin/stdout/stderr open: an
# inherited descriptor (e.g. the caller's `flock` lock file) would otherwise be
# held for the daemon's whole life.
spawn_daemon() { # spawn_daemon LOG CMD...
  local log=$1
  shift
  (
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    exec setsid nohup "$@" >>"$log" 2>&1 </dev/null
  ) &
  disown || true
}

systemd_pid1() { [ -d /run/systemd/system ] && [ "$(cat /proc/1/comm)" = systemd ]; }

# ------------------------------------------------------------ stopping ----

# Pids of the processes named NAME (exact comm).
pids_of() { pgrep -x "$1" 2>/dev/null || true; }

wait_gone() { # wait_gone SECONDS PID...
  local secs=$1 i p alive
  shift
  for ((i = 0; i < secs * 4; i++)); do
    alive=0
    for p in "$@"; do
      [ -d "/proc/$p" ] && alive=1
    done
    [ "$alive" = 0 ] && return 0
    sleep 0.25
  done
  return 1
}

# Removes every rule that jumps to a DOCKER chain or names a Docker bridge, and
# every DOCKER* chain, from each table of one iptables flavour, in one
# `iptables-restore --noflush` per table. The rest of the table (the host's own
# rules) is kept.
remove_docker_rules() { # remove_docker_rules iptables|ip6tables
  local ipt=$1 table rules script
  command -v "$ipt-restore" >/dev/null 2>&1 || return 0
  for table in filter nat mangle raw; do
    rules=$("$ipt-save" -t "$table" 2>/dev/null || true)
    [ -n "$rules" ] || continue
    script=$(printf '%s\n' "$rules" | awk -v t="$table" '
      /^:DOCKER/ { sub(/^:/, "", $1); chains[++n] = $1 }
      /^-A / && $2 !~ /^DOCKER/ && ($0 ~ /-j DOCKER/ || $0 ~ /-[io] (docker0|br-[0-9a-f]+|docker_gwbridge)( |$)/) {
        sub(/^-A /, "-D "); dels[++m] = $0
      }
      END {
        if (n + m == 0) exit
        print "*" t
        for (i = 1; i <= m; i++) print dels[i]
        for (i = 1; i <= n; i++) print "-F " chains[i]
        for (i = 1; i <= n; i++) print "-X " chains[i]
        print "COMMIT"
      }')
    [ -n "$script" ] || continue
    printf '%s\n' "$script" | "$ipt-restore" -w --noflush ||
      die "could not remove Docker's $ipt rules from table $table"
  done
}

remove_docker_bridges() {
  local dev
  for dev in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
    case "$dev" in
      docker0 | docker_gwbridge | br-[0-9a-f]*) ip link delete "$dev" 2>/dev/null || true ;;
    esac
  done
}

# What a dead engine left in the firewall and the links, removed.
clear_dead_engine() {
  if iptables-save -t filter 2>/dev/null | grep -q '^:DOCKER' ||
    ip -o link show type bridge 2>/dev/null | grep -Eq ': (docker0|docker_gwbridge|br-[0-9a-f]+)[:@]'; then
    log "no engine runs, but Docker's chains or bridges are there: removing what a dead engine left"
    remove_docker_rules iptables
    remove_docker_rules ip6tables
    remove_docker_bridges
  fi
}

# Stops the running engine: containers stopped and removed, swarm left, dockerd
# and the containerd it runs gone, its firewall rules and bridges removed.
stop_engine() {
  local v ids pids
  v=$(server_version)
  if engine_up; then
    log "stopping engine ${v:-?}"
    if [ "$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ]; then
      log "leaving the swarm"
      docker swarm leave --force >/dev/null 2>&1 || true
    fi
    ids=$(docker ps -aq 2>/dev/null || true)
    if [ -n "$ids" ]; then
      log "removing containers: $(docker ps -a --format '{{.Names}}' | tr '\n' ' ')"
      # shellcheck disable=SC2086 # ids are meant to split
      docker rm -f $ids >/dev/null 2>&1 || true
    fi
  fi
  if systemd_pid1 && systemctl is-active --quiet docker 2>/dev/null; then
    systemctl stop docker.socket docker 2>/dev/null || systemctl stop docker
  fi
  pids=$(pids_of dockerd)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086 # pids are meant to split
    kill -TERM $pids 2>/dev/null || true
    # shellcheck disable=SC2086
    wait_gone 60 $pids || die "dockerd ($pids) did not stop within 60s"
  fi
  # The containerd dockerd ran for itself stops with it; give it a moment.
  pids=$(pgrep -f '^containerd --config /var/run/docker(-28)?/containerd/containerd.toml' 2>/dev/null || true)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    wait_gone 20 $pids || {
      # shellcheck disable=SC2086
      kill -TERM $pids 2>/dev/null || true
      # shellcheck disable=SC2086
      wait_gone 20 $pids || die "containerd ($pids) did not stop"
    }
  fi
  rm -f "$PIDFILE"
  remove_docker_rules iptables
  remove_docker_rules ip6tables
  remove_docker_bridges
  log "engine stopped; its containers, rules and bridges removed"
}

# ------------------------------------------------------------ Engine 20.10 -

start_engine_2010() {
  if [ ! -x /usr/sbin/dockerd ]; then
    log "no dockerd: installing docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io </dev/null >/dev/null
  fi
  if systemd_pid1; then
    log "starting docker.service (systemd)"
    systemctl start docker
    return 0
  fi
  clear_stale_pidfile "$PIDFILE" dockerd
  clear_stale_pidfile /var/run/docker/containerd/containerd.pid containerd
  mkdir -p "$TOOLS"
  LOG="$TOOLS/dockerd.log"
  log "starting Engine 20.10 ${HARDGEN_DOCKERD_FLAGS:-} (log: $LOG)"
  # shellcheck disable=SC2086 # flags are meant to split
  spawn_daemon "$LOG" /usr/sbin/dockerd ${HARDGEN_DOCKERD_FLAGS:-}
}

# ------------------------------------------------------------ Engine 28 ----

# Private apt: nothing of the system's apt configuration's sources, lists or
# cache is read or written (apt.conf.d still applies, e.g. a proxy).
e28_apt() { e28_apt_tool apt-get "$@"; }

e28_apt_tool() {
  local a="$E28/apt" tool=$1
  shift
  "$tool" \
    -o "Dir::Etc::SourceList=$a/sources.list" \
    -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::Etc::Preferences=/dev/null \
    -o Dir::Etc::PreferencesParts=/dev/null \
    -o "Dir::State::Lists=$a/lists" \
    -o "Dir::Cache=$a/cache" \
    -o APT::Sandbox::User=root \
    -o Acquire::Languages=none \
    -q "$@"
}

fetch_engine_28() {
  local stamp="$E28/fetched" a="$E28/apt" debs deb
  if [ -f "$stamp" ] && [ "${HARDGEN_ENGINE_REFETCH:-0}" != 1 ] && [ -x "$E28_ROOT/usr/sbin/dockerd" ]; then
    return 0
  fi
  command -v dpkg-deb >/dev/null || die "dpkg-deb missing"
  log "fetching Engine 28 from Debian unstable or testing (private apt configuration in $a)"
  rm -rf "$E28"
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$E28/debs" "$E28_ROOT"
  # Two suites: when unstable moves past 28.x, testing keeps it for a while longer.
  local mirror=${HARDGEN_ENGINE_MIRROR:-http://deb.debian.org/debian}
  printf 'deb %s sid main\ndeb %s forky main\n' "$mirror" "$mirror" >"$a/sources.list"
  e28_apt update >"$E28/apt.log" 2>&1 || {
    tail -n 20 "$E28/apt.log" >&2
    die "apt-get update of the private sid/forky sources failed"
  }
  # The newest 28.x docker.io and 2.x containerd either suite has, asked for by version.
  local dver cver
  dver=$(e28_apt_tool apt-cache madison docker.io | awk -F' *[|] *' '$2 ~ /^28\./ {print $2; exit}')
  cver=$(e28_apt_tool apt-cache madison containerd | awk -F' *[|] *' '$2 ~ /^2\./ {print $2; exit}')
  [ -n "$dver" ] || die "neither Debian unstable nor testing has docker.io 28.x any more: $(e28_apt_tool apt-cache madison docker.io | tr '\n' ';')"
  [ -n "$cver" ] || die "neither Debian unstable nor testing has containerd 2.x: $(e28_apt_tool apt-cache madison containerd | tr '\n' ';')"
  (cd "$E28/debs" && e28_apt download "docker.io=$dver" "containerd=$cver") >>"$E28/apt.log" 2>&1 || {
    tail -n 20 "$E28/apt.log" >&2
    die "apt-get download docker.io=$dver containerd=$cver failed"
  }
  debs=("$E28"/debs/*.deb)
  [ "${#debs[@]}" -eq 2 ] || die "expected two packages, got: ${debs[*]}"
  for deb in "${debs[@]}"; do
    dpkg-deb -x "$deb" "$E28_ROOT"
    log "unpacked $(basename "$deb")"
  done
  local dv cv
  dv=$("$E28_ROOT/usr/sbin/dockerd" --version 2>&1 || true)
  cv=$("$E28_ROOT/usr/bin/containerd" --version 2>&1 || true)
  [[ "$dv" == "Docker version 28."* ]] || die "unpacked dockerd is not Engine 28: $dv"
  [[ "$cv" == *" v2."* || "$cv" == *" 2."* ]] || die "unpacked containerd is not 2.x: $cv"
  [ -x /usr/sbin/runc ] || die "Debian 12's runc missing (it comes with docker.io: scripts/install-tools.sh)"
  [ -x /usr/bin/docker-init ] || die "Debian 12's docker-init (tini) missing"
  printf '%s\n%s\n' "$dv" "$cv" >"$stamp"
}

start_engine_28() {
  fetch_engine_28
  clear_stale_pidfile "$PIDFILE" dockerd
  clear_stale_pidfile "$E28_EXEC/containerd/containerd.pid" containerd
  mkdir -p "$TOOLS" "$E28_DATA"
  LOG="$TOOLS/dockerd-28.log"
  log "starting Engine 28 ${HARDGEN_DOCKERD_FLAGS:-} (log: $LOG)"
  # The unpacked containerd and shim first on PATH; runc from Debian 12.
  # shellcheck disable=SC2086 # flags are meant to split
  spawn_daemon "$LOG" env \
    PATH="$E28_ROOT/usr/bin:$E28_ROOT/usr/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "$E28_ROOT/usr/sbin/dockerd" \
    --data-root "$E28_DATA" \
    --exec-root "$E28_EXEC" \
    --pidfile "$PIDFILE" \
    --init-path /usr/bin/docker-init \
    --userland-proxy-path "$E28_ROOT/usr/sbin/docker-proxy" \
    ${HARDGEN_DOCKERD_FLAGS:-}
}

# ------------------------------------------------------------ common -------

wait_engine() {
  local i
  for ((i = 0; i < TIMEOUT * 2; i++)); do
    engine_up && return 0
    sleep 0.5
  done
  [ -n "${LOG:-}" ] && [ -f "$LOG" ] && tail -n 30 "$LOG" >&2
  die "docker engine did not answer within ${TIMEOUT}s"
}

report() {
  docker version --format 'client {{.Client.Version}} (API {{.Client.APIVersion}}), engine {{.Server.Version}} (API {{.Server.APIVersion}}, min {{.Server.MinAPIVersion}})'
  docker info --format 'storage {{.Driver}}, cgroup {{.CgroupDriver}} v{{.CgroupVersion}}, root {{.DockerRootDir}}, init {{.InitBinary}}, runc {{.RuncCommit.ID}}, containerd {{.ContainerdCommit.ID}}, security {{.SecurityOptions}}'
  printf 'compose: %s\n' "$(docker compose version --short 2>/dev/null || echo missing)"
  printf 'iptables: %s\n' "$(iptables -V 2>/dev/null || echo missing)"
  if iptables -w -S DOCKER-USER >/dev/null 2>&1; then
    echo 'DOCKER-USER chain: present'
  else
    echo 'DOCKER-USER chain: absent'
  fi
  printf 'filter chains: %s\n' "$(iptables -w -S | awk '$1 == "-N" { print $2 }' | tr '\n' ' ')"
  if [ -x /usr/bin/docker-init ]; then
    echo "docker-init: $(readlink -f /usr/bin/docker-init)"
  else
    echo 'docker-init: missing (init: true will fail)'
  fi
}

main() {
  case "${1:-}" in
    --stop)
      stop_engine
      return 0
      ;;
    --fetch-28)
      fetch_engine_28
      return 0
      ;;
    "") ;;
    *) die "unknown argument: $1 (usage: [HARDGEN_ENGINE=20.10|28] $0 [--stop])" ;;
  esac
  case "$ENGINE" in
    20.10 | 28) ;;
    *) die "HARDGEN_ENGINE=$ENGINE: 20.10 or 28" ;;
  esac
  local v
  if engine_up; then
    v=$(server_version)
    if is_engine "$v" "$ENGINE"; then
      report
      return 0
    fi
    log "engine $v runs; Engine $ENGINE asked for: switching"
    stop_engine
  elif [ -n "$(pids_of dockerd)" ]; then
    # Started but not answering yet: wait for it, then decide.
    LOG=""
    wait_engine
    main
    return 0
  fi
  # No engine runs: rules and bridges still there were left by one that died
  # without cleaning up (killed, or the machine stopped under it). The engine
  # about to start would build its own beside them, and an Engine 28 layout
  # left under an Engine 20.10 one is not the layout 20.10 makes.
  clear_dead_engine
  case "$ENGINE" in
    20.10) start_engine_2010 ;;
    28) start_engine_28 ;;
  esac
  wait_engine
  v=$(server_version)
  is_engine "$v" "$ENGINE" || die "started engine answers as $v, not $ENGINE"
  report
}

main "$@"
