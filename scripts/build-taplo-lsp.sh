#!/usr/bin/env bash
# Builds a taplo with its language server (`taplo lsp stdio`) into
# .tools/taplo-lsp/bin/taplo, for tests/editor.rs.
#
# The PyPI `taplo` that install-tools.sh puts in .tools/bin has no language
# server (`taplo lsp stdio` exits 1 silently), so this one is built from
# crates.io with the `lsp` feature. Same version as the PyPI pin, so `taplo
# check` and the language server read the schema the same way.
#
# Idempotent: does nothing when the binary is already there and answers
# `lsp --help`. A first build takes about 6 minutes on two cores; the time is
# printed. Cache .tools/taplo-lsp between CI runs to skip it.
#
# Environment:
#   TAPLO_LSP_VERSION   taplo-cli version (default 0.9.3)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION="${TAPLO_LSP_VERSION:-0.9.3}"
DEST="$ROOT/.tools/taplo-lsp"
BIN="$DEST/bin/taplo"

log() { printf 'build-taplo-lsp: %s\n' "$*" >&2; }

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$PATH:$HOME/.cargo/bin"
fi

if [ -x "$BIN" ] && "$BIN" lsp --help >/dev/null 2>&1; then
  log "present: $BIN ($("$BIN" --version 2>/dev/null || echo '?'))"
  exit 0
fi

mkdir -p "$ROOT/.tools"
# .tools/ must never be committed (install-tools.sh writes the same file).
[ -f "$ROOT/.tools/.gitignore" ] || printf '*\n' >"$ROOT/.tools/.gitignore"

log "building taplo-cli $VERSION with --features lsp into $DEST (about 6 minutes on two cores)"
start=$(date +%s)
# A private target dir: never contends for the project's build lock.
CARGO_TARGET_DIR="${TAPLO_LSP_TARGET_DIR:-$ROOT/.tools/taplo-lsp-target}" \
  cargo install taplo-cli --version "=$VERSION" --locked --features lsp \
  --root "$DEST" --quiet </dev/null
end=$(date +%s)
rm -rf "${TAPLO_LSP_TARGET_DIR:-$ROOT/.tools/taplo-lsp-target}"

"$BIN" lsp --help >/dev/null 2>&1 || { log "error: $BIN has no 'lsp' subcommand"; exit 1; }
log "built $BIN in $((end - start))s"
