"""The worker's health check: the queue (REDIS_URL) accepts a connection."""
import os
import socket
import sys
from urllib.parse import urlparse

url = urlparse(os.environ["REDIS_URL"])
try:
    socket.create_connection((url.hostname, url.port or 6379), timeout=3).close()
except OSError as e:
    print(f"unhealthy: {e}", file=sys.stderr)
    sys.exit(1)
