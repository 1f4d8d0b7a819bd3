#!/bin/sh
# Stand-in docker-entrypoint.sh of the postgres image (tests/live.rs). As the official one
# does for `postgres`: refuses to initialise without a superuser password (here the file
# named by POSTGRES_PASSWORD_FILE, the spec's secret, must be readable and not empty),
# creates PGDATA (mode 700) in the volume, then runs the command.
set -eu
if [ "${1:-}" = postgres ]; then
    f=${POSTGRES_PASSWORD_FILE:-}
    if [ -z "$f" ] || [ ! -s "$f" ]; then
        echo "postgres stand-in: cannot read the superuser password file '$f'" >&2
        exit 1
    fi
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    [ -s "$PGDATA/PG_VERSION" ] || echo 16 >"$PGDATA/PG_VERSION"
fi
exec "$@"
