# Stand-in ZeroIA decision engine for the live Arkalia test (tests/live.rs), shell run by the
# stand-in `python`. Needs its configuration secret (ZEROIA_CONFIG_FILE) and the read-only
# state bind mount; then waits (its health check is `import modules.zeroia`). Runs under the
# spec's `strict` seccomp profile.
set -eu
if [ ! -s "${ZEROIA_CONFIG_FILE:-}" ]; then
    echo "zeroia stand-in: cannot read the configuration '${ZEROIA_CONFIG_FILE:-}'" >&2
    exit 1
fi
[ -r /app/state/zeroia.state ] || { echo "zeroia stand-in: no state in /app/state" >&2; exit 1; }
exec busybox sleep 2147483647
