#!/usr/bin/env bash
# The project's test command (README): installs the tools on first use, puts
# them first on PATH and runs the Rust test suite, whose integration tests
# run the validators (compose-lint, docker compose config, hadolint, taplo,
# yamllint, shellcheck, iptables-restore --test, nft -c, apparmor_parser,
# kubernetes-validate) on the generated goldens. HARDGEN_REQUIRE_TOOLS=1 makes a missing tool a test
# failure instead of a skip.
#
#   scripts/test.sh                 everything; as root also the live suite on
#                                   every engine of HARDGEN_ENGINES
#   scripts/test.sh ARGS...         `cargo test --locked ARGS...` once, live on
#                                   HARDGEN_ENGINE (default 20.10); the live
#                                   tests are #[ignore]d: add
#                                   `-- --include-ignored` to run them
#
# Environment:
#   HARDGEN_LIVE=0|1     the live Docker suite (tests/live.rs). Default: 1 as
#                        root (the engine, iptables and /proc of other users
#                        need it), 0 otherwise.
#   HARDGEN_ENGINES      engines the full run proves the live suite on, in
#                        order (default "20.10 28"). The engine is left at
#                        HARDGEN_ENGINE_AFTER (default 20.10) afterwards, also
#                        on failure.
#   HARDGEN_EXAMPLES_ENGINES  engines the examples' live tests (examples::, the
#                        slowest: every build of every example, about 5 minutes
#                        per engine on a fresh one) run on (default "28", to
#                        keep CI under 45 minutes; "20.10 28" runs them on
#                        both, where they pass too); on the others they are
#                        skipped by name and not counted. The imported compose
#                        stacks' live test (imported::, about 5 minutes) and
#                        hardgen learn's (learn::, about 3.5 minutes) follow the
#                        same setting.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/install-tools.sh
# The taplo language server for the editor tests (built once, about 4.5 minutes; cached).
bash scripts/build-taplo-lsp.sh

export PATH="$ROOT/.tools/bin:$PATH:/usr/sbin:/sbin"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$PATH:$HOME/.cargo/bin"
fi
export HARDGEN_REQUIRE_TOOLS=1
export HARDGEN_TOOLS_DIR="$ROOT/.tools"

# ---------------------------------------------------------------------------
# LIVE DOCKER SUITE: on as root. Every live test is #[ignore]d (a plain
# `cargo test` reports it as ignored, with the reason); here it is included
# with --include-ignored, once per engine, and the run fails unless every live
# test ran and passed on each engine.
# ---------------------------------------------------------------------------
if [ -z "${HARDGEN_LIVE:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then HARDGEN_LIVE=1; else HARDGEN_LIVE=0; fi
fi

now() { date +%s; }

# prepare_engine ENGINE: that engine running, the local base images built on it.
prepare_engine() {
  HARDGEN_ENGINE=$1 bash scripts/docker-engine.sh
  bash scripts/test-images.sh
}

# live_pass ENGINE: the whole live suite on one engine; fails unless every
# test the binary lists ran and passed.
live_pass() {
  # measure:: are measurements over every example, run by scripts/learn-examples.sh.
  local engine=$1 log listed summary t0 filter=(--skip measure::)
  t0=$(now)
  prepare_engine "$engine"
  case " ${HARDGEN_EXAMPLES_ENGINES:-28} " in
    *" $engine "*) ;;
    *) filter+=(--skip examples:: --skip imported:: --skip learn::) ;;
  esac
  # The Docker host tests (tests/live/host.rs) read the running engine's layout (its dockerd
  # and PATH, the chain its icc rule is in) and run on both engines by default.
  case " ${HARDGEN_HOST_ENGINES:-20.10 28} " in
    *" $engine "*) ;;
    *) filter+=(--skip host::) ;;
  esac
  log=$(mktemp)
  listed=$(cargo test --locked --test live -- --include-ignored "${filter[@]}" --list 2>/dev/null | grep -c ': test$')
  echo "test.sh: live suite on Engine $engine ($listed tests${filter[*]:+, ${filter[*]}})"
  if ! HARDGEN_LIVE=1 HARDGEN_ENGINE=$engine cargo test --locked --test live -- --include-ignored "${filter[@]}" 2>&1 | tee "$log"; then
    rm -f "$log"
    echo "test.sh: live suite FAILED on Engine $engine" >&2
    return 1
  fi
  summary=$(grep '^test result:' "$log" | tail -n 1)
  rm -f "$log"
  if ! [[ "$summary" =~ ^test\ result:\ ok\.\ ([0-9]+)\ passed\;\ 0\ failed\;\ 0\ ignored\;\ 0\ measured\;\ ([0-9]+)\ filtered\ out ]] ||
    [ "${BASH_REMATCH[1]}" != "$listed" ] || [ "$listed" -eq 0 ]; then
    echo "test.sh: on Engine $engine not every live test ran: '$summary' for $listed listed" >&2
    return 1
  fi
  echo "test.sh: live suite on Engine $engine: $listed/$listed passed in $(($(now) - t0)) s (engine switch and images included)"
}

restore_engine() {
  local rc=$?
  HARDGEN_ENGINE=${HARDGEN_ENGINE_AFTER:-20.10} bash scripts/docker-engine.sh >/dev/null || rc=1
  exit "$rc"
}

if [ "$#" -gt 0 ]; then
  if [ "$HARDGEN_LIVE" = 1 ]; then
    prepare_engine "${HARDGEN_ENGINE:-20.10}"
    export HARDGEN_ENGINE=${HARDGEN_ENGINE:-20.10}
  fi
  export HARDGEN_LIVE
  exec cargo test --locked "$@"
fi

# The slow downloads of the live suite (Engine 28's packages, the toolchains'
# root file system: minutes on a fresh machine, cached after) run in the
# background while the rest of the suite runs.
prefetch=''
if [ "$HARDGEN_LIVE" = 1 ]; then
  (
    bash scripts/docker-engine.sh --fetch-28
    bash scripts/test-images.sh --toolchains-tarball
  ) >.tools/prefetch.log 2>&1 &
  prefetch=$!
fi

# Everything but the live suite (whose tests show as ignored here).
HARDGEN_LIVE=0 cargo test --locked

if [ -n "$prefetch" ] && ! wait "$prefetch"; then
  tail -n 30 .tools/prefetch.log >&2
  echo "test.sh: fetching Engine 28 or the toolchains failed (.tools/prefetch.log)" >&2
  exit 1
fi

# The firewall matrix (tests/firewall.rs) needs root for its network namespaces (no engine):
# it is #[ignore]d above; as root it runs here, and fails if it cannot build its namespaces.
# HARDGEN_NETNS=0 skips it.
if [ "$(id -u)" -eq 0 ] && [ "${HARDGEN_NETNS:-1}" != 0 ]; then
  cargo test --locked --test firewall -- --ignored
fi

# The full-disk test (tests/full_disk.rs) mounts a small tmpfs in a private mount namespace:
# #[ignore]d above, it runs here as root and fails if it cannot mount.
if [ "$(id -u)" -eq 0 ]; then
  cargo test --locked --test full_disk -- --ignored
fi

if [ "$HARDGEN_LIVE" = 1 ]; then
  trap restore_engine EXIT
  for engine in ${HARDGEN_ENGINES:-20.10 28}; do
    live_pass "$engine"
  done
fi
