#!/bin/sh
# Sandozia's health check (the seed's /app/scripts/healthcheck-sandozia.sh), stand-in for the
# live Arkalia test (tests/live.rs): healthy when the key is readable and 8500 accepts.
[ -s "${SANDOZIA_KEY_FILE:-/run/secrets/sandozia_key}" ] || exit 1
exec busybox nc -w 2 127.0.0.1 8500 </dev/null
