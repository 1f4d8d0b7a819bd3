# Stand-in Helloria external API for the live Arkalia test (tests/live.rs), shell run by the
# stand-in `python` (`python -m helloria`). Needs the JWT secret (JWT_SECRET_FILE), then
# serves on 8000 (published on 127.0.0.1).
set -eu
if [ ! -s "${JWT_SECRET_FILE:-}" ]; then
    echo "helloria stand-in: cannot read the JWT secret '${JWT_SECRET_FILE:-}'" >&2
    exit 1
fi
exec busybox httpd -f -p 8000 -h /app/helloria
