"""A jobs worker: polls the queues named in WORKER_QUEUES in Redis (REDIS_URL)."""
import os
import socket
import time
from urllib.parse import urlparse

url = urlparse(os.environ["REDIS_URL"])
queues = os.environ.get("WORKER_QUEUES", "default").split(",")
print(f"worker: queues {queues} at {url.hostname}:{url.port}", flush=True)
while True:
    try:
        with socket.create_connection((url.hostname, url.port or 6379), timeout=5) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            s.recv(64)
    except OSError as e:
        print(f"worker: redis unreachable: {e}", flush=True)
    time.sleep(5)
