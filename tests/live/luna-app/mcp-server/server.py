# Stand-in for the Luna MCP server in the live test (tests/live.rs). The stand-in `python`
# of tests/live/stand-ins/python runs .py files as shell scripts, so this is shell.
# It needs both secret files named by the spec's environment, then listens on the three
# published ports (3000, 8000, 9100).
set -eu
for f in "$LUNA_MASTER_KEY_FILE" "$REDIS_PASSWORD_FILE"; do
    if [ ! -s "$f" ]; then
        echo "luna stand-in: cannot read $f" >&2
        exit 1
    fi
done
busybox httpd -p 3000 -h /app/mcp-server
busybox httpd -p 9100 -h /app/mcp-server
exec busybox httpd -f -p 8000 -h /app/mcp-server
