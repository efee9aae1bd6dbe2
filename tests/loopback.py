"""A loopback redirect target on a random port, as native MCP clients run one (RFC 8252 §7.3)."""

from __future__ import annotations

import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Callback:
    """The loopback redirect URI a native MCP client listens on (RFC 8252 §7.3)."""

    def __init__(self) -> None:
        self.queries: queue.Queue[dict[str, str]] = queue.Queue()
        received = self.queries

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                if parts.path != "/callback":  # e.g. the browser's /favicon.ico
                    self.send_error(404)
                    return
                received.put({k: v[0] for k, v in parse_qs(parts.query).items()})
                body = b"<h1>Done. You can close this window.</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next_query(self, timeout: float = 15) -> dict[str, str]:
        try:
            return self.queries.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the browser never reached the loopback callback") from None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
