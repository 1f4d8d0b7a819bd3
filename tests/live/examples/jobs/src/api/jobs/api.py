"""The jobs API: POST / enqueues a job in Redis (RPUSH over the Redis protocol), GET / answers."""
import http.server
import os
import socket
from urllib.parse import urlparse


def redis_command(*args):
    url = urlparse(os.environ["REDIS_URL"])
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    with socket.create_connection((url.hostname, url.port or 6379), timeout=5) as s:
        s.sendall(payload.encode())
        return s.recv(1024)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"jobs api\n")

    def do_POST(self):
        redis_command("RPUSH", "jobs:default", self.path)
        self.send_response(202)
        self.end_headers()


http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
