# Stand-in Sandozia core for the live Arkalia test (tests/live.rs). The stand-in `python`
# of tests/live/stand-ins/python runs modules as shell scripts, so this is shell.
# Needs its signing key (the secret named by SANDOZIA_KEY_FILE) and the read-only config and
# docs bind mounts, then serves on 8500 (the flows api -> intelligence and
# monitoring -> intelligence).
set -eu
if [ ! -s "${SANDOZIA_KEY_FILE:-}" ]; then
    echo "sandozia stand-in: cannot read the key file '${SANDOZIA_KEY_FILE:-}'" >&2
    exit 1
fi
for d in /app/config /app/docs; do
    [ -d "$d" ] || { echo "sandozia stand-in: $d not mounted" >&2; exit 1; }
done
exec busybox httpd -f -p 8500 -h /app/docs
