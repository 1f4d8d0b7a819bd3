#!/usr/bin/env bash
# Builds the local base images the live Docker tests use. No image registry is
# reachable, so everything comes from Debian packages:
#
#   hardgen-test/busybox:1   FROM scratch + Debian's busybox-static, every applet
#                            symlinked in /bin (sh, nc, httpd, wget, ...),
#                            /usr/bin, /sbin, /usr/sbin -> /bin, a passwd with
#                            root, nobody and app (10001:10001), /tmp 1777.
#   debian:bookworm-slim     `debootstrap --variant=minbase bookworm` with docs,
#                            man pages and apt lists removed, `docker import`ed.
#                            The rootfs tarball is cached in .tools/cache/.
#   hardgen-test/toolchains:1
#                            that root file system plus Debian's own compilers and
#                            runtimes (golang-go, rustc, cargo, nodejs, npm, python3,
#                            python3-pip, python-is-python3), installed with apt-get
#                            in a chroot; cached in .tools/cache/ too. The live suite
#                            tags stand-ins of it as the builder and runtime images
#                            the generated Dockerfiles name (golang:, rust:, node:,
#                            python:), so every runtime preset is built for real.
#
# Idempotent: an image carrying the same org.hardgen.recipe label is kept.
# A debian:bookworm-slim not made by this script is left alone.
# Needs root and a running engine (scripts/docker-engine.sh).
#
# Environment:
#   HARDGEN_REBUILD_IMAGES=1  rebuild both images (the debootstrap cache is kept;
#                             delete .tools/cache/ to redo that too).
#   HARDGEN_DEBIAN_MIRROR     override the mirror (default: apt's own).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
CACHE="$TOOLS/cache"
PATH="$PATH:/usr/sbin:/sbin"
export DOCKER_BUILDKIT=0   # no buildx here; the legacy builder is what works

BUSYBOX_IMAGE=hardgen-test/busybox:1
DEBIAN_IMAGE=debian:bookworm-slim
SUITE=bookworm
# Bump when the recipe below changes.
BUSYBOX_RECIPE_VERSION=1
DEBIAN_RECIPE_VERSION=1
TOOLCHAINS_IMAGE=hardgen-test/toolchains:1
TOOLCHAINS_RECIPE_VERSION=1
TOOLCHAIN_PKGS=(golang-go rustc cargo nodejs npm python3 python3-pip python-is-python3 ca-certificates)

log() { printf 'test-images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

now() { date +%s.%N; }
timed() { # timed LABEL CMD...
  local label=$1 t0 t1
  shift
  t0=$(now)
  "$@"
  t1=$(now)
  log "$(awk -v l="$label" -v a="$t0" -v b="$t1" 'BEGIN { printf "%-28s %6.1fs", l, b - a }')"
}

image_label() { # image_label IMAGE -> recipe label or empty
  docker image inspect --format '{{ index .Config.Labels "org.hardgen.recipe" }}' "$1" 2>/dev/null || true
}

# After a rebuild, drop the previous image if nothing names it any more.
remove_if_dangling() {
  local id=$1
  [ -n "$id" ] || return 0
  if [ -z "$(docker image inspect --format '{{join .RepoTags ","}}' "$id" 2>/dev/null)" ]; then
    docker image rm "$id" >/dev/null 2>&1 || true
  fi
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# ----------------------------------------------------------- busybox ------
busybox_recipe() {
  local bb
  bb=$(sha256sum /bin/busybox | cut -c1-16)
  printf 'busybox-v%s-%s' "$BUSYBOX_RECIPE_VERSION" "$bb"
}

build_busybox() {
  /bin/busybox --list >/dev/null 2>&1 ||
    die "/bin/busybox missing: run scripts/install-tools.sh (busybox-static)"
  [ "$(dpkg-query -W -f='${db:Status-Status}' busybox-static 2>/dev/null)" = installed ] ||
    die "busybox-static is not installed (a dynamic busybox cannot run FROM scratch)"
  local recipe ctx a
  recipe=$(busybox_recipe)
  if [ "${HARDGEN_REBUILD_IMAGES:-0}" != 1 ] && [ "$(image_label "$BUSYBOX_IMAGE")" = "$recipe" ]; then
    log "$BUSYBOX_IMAGE up to date ($recipe)"
    return 0
  fi
  ctx=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now
  trap "rm -rf '$ctx'" RETURN
  mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp" "$ctx/rootfs/run" \
    "$ctx/rootfs/var" "$ctx/rootfs/usr" "$ctx/rootfs/home/app"
  chmod 1777 "$ctx/rootfs/tmp"
  cp /bin/busybox "$ctx/rootfs/bin/busybox"
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$ctx/rootfs/bin/$a"
  done
  ln -s /bin "$ctx/rootfs/sbin"
  ln -s /bin "$ctx/rootfs/usr/bin"
  ln -s /bin "$ctx/rootfs/usr/sbin"
  ln -s /run "$ctx/rootfs/var/run"
  mkdir -p "$ctx/rootfs/var/tmp" && chmod 1777 "$ctx/rootfs/var/tmp"
  cat >"$ctx/rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:10001:10001:app:/home/app:/bin/false
EOF
  cat >"$ctx/rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
app:x:10001:
EOF
  cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
LABEL org.hardgen.recipe="$recipe" \\
      org.opencontainers.image.title="hardgen test busybox"
CMD ["/bin/sh"]
EOF
  local out old_id
  old_id=$(docker image inspect --format '{{.Id}}' "$BUSYBOX_IMAGE" 2>/dev/null || true)
  if ! out=$(docker build -q -t "$BUSYBOX_IMAGE" "$ctx" 2>&1); then
    printf '%s\n' "$out" >&2
    die "docker build of $BUSYBOX_IMAGE failed"
  fi
  # smoke test: a shell, nc and httpd exist and run
  docker run --rm --network none "$BUSYBOX_IMAGE" sh -c 'command -v nc httpd wget >/dev/null && echo ok' |
    grep -qx ok || die "$BUSYBOX_IMAGE smoke test failed"
  remove_if_dangling "$old_id"
  log "built $BUSYBOX_IMAGE ($recipe)"
}

# ----------------------------------------------------------- debian -------
apt_mirror() {
  if [ -n "${HARDGEN_DEBIAN_MIRROR:-}" ]; then
    printf '%s\n' "$HARDGEN_DEBIAN_MIRROR"
    return 0
  fi
  local m=""
  # deb822 sources: the URIs of a stanza whose Suites include $SUITE
  # (not -security/-updates).
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    m=$(awk -v s="$SUITE" '
      BEGIN { RS=""; FS="\n" }
      {
        uri=""; ok=0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { split($i, a, /[ \t]+/); uri=a[2] }
          if ($i ~ /^Suites:/) { n=split($i, b, /[ \t]+/); for (j = 2; j <= n; j++) if (b[j] == s) ok=1 }
        }
        if (ok && uri != "") { print uri; exit }
      }' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk -v s="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == s) { u=$(i-1); if (u ~ /^\[/) u=$(i-2); print u; exit } }' \
      /etc/apt/sources.list)
  fi
  [ -n "$m" ] || m=http://deb.debian.org/debian
  printf '%s\n' "$m"
}

debian_tarball() { printf '%s/debian-%s-minbase-v%s.tar' "$CACHE" "$SUITE" "$DEBIAN_RECIPE_VERSION"; }

make_debian_tarball() {
  local tar rootfs mirror
  tar=$(debian_tarball)
  [ -s "$tar" ] && { log "cached rootfs $tar"; return 0; }
  command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/install-tools.sh"
  mirror=$(apt_mirror)
  mkdir -p "$CACHE"
  rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  # shellcheck disable=SC2064 # expand now
  trap "rm -rf '$rootfs'" RETURN
  log "debootstrap --variant=minbase $SUITE from $mirror"
  if ! debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1; then
    tail -n 30 "$CACHE/debootstrap.log" >&2
    die "debootstrap failed (log: $CACHE/debootstrap.log)"
  fi
  # Slim it like the official -slim images.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/locale/* "$rootfs"/debootstrap
  mkdir -p "$rootfs/var/lib/apt/lists/partial"
  printf 'deb %s %s main\n' "$mirror" "$SUITE" >"$rootfs/etc/apt/sources.list"
  : >"$rootfs/etc/hostname"
  tar --numeric-owner -C "$rootfs" -cf "$tar.tmp" .
  mv -f "$tar.tmp" "$tar"
}

import_debian() {
  local recipe tar
  tar=$(debian_tarball)
  recipe="debian-$SUITE-minbase-v$DEBIAN_RECIPE_VERSION"
  if image_exists "$DEBIAN_IMAGE" && [ "${HARDGEN_REBUILD_IMAGES:-0}" != 1 ]; then
    if [ "$(image_label "$DEBIAN_IMAGE")" = "$recipe" ]; then
      log "$DEBIAN_IMAGE up to date ($recipe)"
    else
      log "$DEBIAN_IMAGE exists and was not made here: kept"
    fi
    return 0
  fi
  timed "debootstrap (or cache)" make_debian_tarball
  local old_id
  old_id=$(docker image inspect --format '{{.Id}}' "$DEBIAN_IMAGE" 2>/dev/null || true)
  docker import \
    --change "LABEL org.hardgen.recipe=$recipe" \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tar" "$DEBIAN_IMAGE" >/dev/null
  docker run --rm --network none "$DEBIAN_IMAGE" sh -c 'test -x /usr/bin/apt-get && . /etc/os-release && echo "$VERSION_CODENAME"' |
    grep -qx "$SUITE" || die "$DEBIAN_IMAGE smoke test failed"
  remove_if_dangling "$old_id"
  log "imported $DEBIAN_IMAGE ($recipe)"
}

# ----------------------------------------------------------- toolchains ---
toolchains_tarball() { printf '%s/debian-%s-toolchains-v%s.tar' "$CACHE" "$SUITE" "$TOOLCHAINS_RECIPE_VERSION"; }

make_toolchains_tarball() {
  local tar rootfs
  tar=$(toolchains_tarball)
  [ -s "$tar" ] && { log "cached rootfs $tar"; return 0; }
  make_debian_tarball
  rootfs=$(mktemp -d "$CACHE/toolchains.XXXXXX")
  # shellcheck disable=SC2064 # expand now
  trap "umount '$rootfs/proc' 2>/dev/null || true; rm -rf '$rootfs'" RETURN
  tar -C "$rootfs" -xf "$(debian_tarball)"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  mount -t proc proc "$rootfs/proc"
  log "apt-get install ${TOOLCHAIN_PKGS[*]} (in a chroot of the bookworm rootfs)"
  if ! chroot "$rootfs" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null' \
    sh "${TOOLCHAIN_PKGS[@]}" >"$CACHE/toolchains.log" 2>&1; then
    tail -n 30 "$CACHE/toolchains.log" >&2
    die "installing the toolchains failed (log: $CACHE/toolchains.log)"
  fi
  umount "$rootfs/proc"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  mkdir -p "$rootfs/var/lib/apt/lists/partial"
  : >"$rootfs/etc/resolv.conf"
  tar --numeric-owner -C "$rootfs" -cf "$tar.tmp" .
  mv -f "$tar.tmp" "$tar"
}

import_toolchains() {
  local recipe="toolchains-$SUITE-v$TOOLCHAINS_RECIPE_VERSION" old_id
  if [ "$(image_label "$TOOLCHAINS_IMAGE")" = "$recipe" ] && [ "${HARDGEN_REBUILD_IMAGES:-0}" != 1 ]; then
    log "$TOOLCHAINS_IMAGE up to date ($recipe)"
    return 0
  fi
  timed "toolchains rootfs (or cache)" make_toolchains_tarball
  old_id=$(docker image inspect --format '{{.Id}}' "$TOOLCHAINS_IMAGE" 2>/dev/null || true)
  docker import \
    --change "LABEL org.hardgen.recipe=$recipe" \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$(toolchains_tarball)" "$TOOLCHAINS_IMAGE" >/dev/null
  docker run --rm --network none "$TOOLCHAINS_IMAGE" sh -c 'go version && rustc --version && cargo --version && node --version && npm --version && python --version && pip --version' >&2 ||
    die "$TOOLCHAINS_IMAGE smoke test failed"
  remove_if_dangling "$old_id"
  log "imported $TOOLCHAINS_IMAGE ($recipe)"
}

main() {
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  if [ "${1:-}" = --toolchains-tarball ]; then
    # Only the cached root file system (no engine needed).
    timed "toolchains rootfs (or cache)" make_toolchains_tarball
    return 0
  fi
  docker info >/dev/null 2>&1 || die "no docker engine: run scripts/docker-engine.sh"
  timed "$BUSYBOX_IMAGE" build_busybox
  timed "$DEBIAN_IMAGE" import_debian
  timed "$TOOLCHAINS_IMAGE" import_toolchains
  docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$TOOLCHAINS_IMAGE"
  docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$BUSYBOX_IMAGE"
  docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$DEBIAN_IMAGE"
}

main "$@"
