"""Real receivers on loopback for the audit sink tests: an HTTP endpoint that records what
it is sent and can be told to fail, hang or go away, and syslog UDP/TCP listeners."""

from __future__ import annotations

import json
import re
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HttpReceiver:
    """``mode``: "ok" (204), "fail" (500), "hold" (answer once ``release`` is set)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict] = []  # every request, answered or not
        self.accepted: list[dict] = []  # those answered 2xx
        self.release = threading.Event()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                seen = {"path": self.path, "headers": dict(self.headers), "body": body}
                receiver.requests.append(seen)
                receiver.arrived.set()
                mode = receiver.mode
                if mode == "hold":
                    receiver.release.wait(30)
                status = 500 if mode == "fail" else 204
                if status == 204:
                    receiver.accepted.append(seen)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up (timeout) and closed

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/audit"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted_events(self) -> list[dict]:
        return [e for r in self.accepted for e in json.loads(r["body"])]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


RFC5424 = re.compile(
    rb"^<110>1 (?P<at>\S+) (?P<host>\S+) mcp-authserver - (?P<msgid>\S+) - "
    rb"\xef\xbb\xbf(?P<json>.*)$",
    re.S,
)


class UdpSyslog:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"udp://127.0.0.1:{self.sock.getsockname()[1]}"

    def receive(self, count: int) -> list[bytes]:
        self.sock.settimeout(10)
        return [self.sock.recvfrom(65535)[0] for _ in range(count)]

    def stop(self) -> None:
        self.sock.close()


class TcpSyslog:
    """RFC 6587 octet-counted frames, all the connections' bytes in order."""

    def __init__(self) -> None:
        self.data = bytearray()
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                receiver.data.extend(self.rfile.read())

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"tcp://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def frames(self) -> list[bytes]:
        data, frames = bytes(self.data), []
        while data:
            length, _, rest = data.partition(b" ")
            frames.append(rest[: int(length)])
            data = rest[int(length) :]
        return frames

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
