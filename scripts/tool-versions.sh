#!/usr/bin/env bash
# Prints the version of every tool the tests use (for CI logs and bug reports).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$ROOT/.tools/bin:$PATH:/usr/sbin:/sbin"

v() { # v NAME CMD...
  local name=$1 out
  shift
  if out=$("$@" 2>&1 | grep -m1 -E '[0-9]+\.[0-9]+'); then
    printf '%-16s %s\n' "$name" "$out"
  else
    printf '%-16s %s\n' "$name" "missing"
  fi
}

v cargo cargo --version
v rustc rustc --version
v docker-compose docker-compose version --short
v compose-lint compose-lint --version
v hadolint hadolint --version
v taplo taplo --version
v yamllint yamllint --version
v shellcheck shellcheck --version
v iptables iptables --version
v apparmor_parser apparmor_parser --version
v hyperfine hyperfine --version
# shellcheck disable=SC2016 # dpkg-query's own format syntax
v debootstrap dpkg-query -W -f='${Version}\n' debootstrap
v busybox sh -c '/bin/busybox | head -1'
v dockerd dockerd --version
v docker docker --version
