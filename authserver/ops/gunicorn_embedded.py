"""gunicorn settings for the embedded default (``manage.py serve``): redacted logs, and a
deadline for request headers.

``serve`` passes ``--config python:authserver.ops.gunicorn_embedded``; its command-line options
(bind, workers, threads) override these. The access log and gunicorn's own messages go
through the same redaction filter as every other log (authserver.ops.logs), so a code, its
verifier or a registration access token in a query string never reaches the terminal.
Production uses deploy/gunicorn.conf.py, which does the same with JSON output.

**Slow loris.** gunicorn's threaded worker gives a connection a thread once its first byte
arrives and then reads the headers with blocking reads, without a total deadline: 8 clients
sending one header line every 5 s held all 8 threads, and nobody else was answered for as
long as they kept going. ``HeaderDeadlineWorker`` shuts a connection down when its request
line and headers have not all arrived ``HEADER_TIMEOUT`` seconds after its thread took it,
which frees the thread; the application never sees the request.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from gunicorn.workers.gthread import ThreadWorker

from authserver import version
from authserver.ops.logs import GUNICORN_ACCESS_FORMAT, gunicorn_logconfig

HEADER_TIMEOUT = 10.0  # seconds for the request line and headers (nginx: 60, Apache: 20-40)

accesslog = "-"
worker_class = "authserver.ops.gunicorn_embedded.HeaderDeadlineWorker"
access_log_format = GUNICORN_ACCESS_FORMAT
logconfig_dict = gunicorn_logconfig({"format": "%(asctime)s %(levelname)s %(name)s %(message)s"})


def on_starting(server):
    """Every start names the version, right after gunicorn's own line (authserver.version)."""
    server.log.info("mcp-authserver %s starting", version.current())


def _cut(sock: socket.socket) -> None:
    # The blocked recv returns b"" (NoMoreData) and the thread is free; closed already: fine.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class HeaderDeadlineWorker(ThreadWorker):
    """gunicorn's gthread worker, plus a total deadline on reading the request's headers."""

    def handle(self, conn):
        timer = threading.Timer(HEADER_TIMEOUT, _cut, (conn.sock,))
        timer.daemon = True
        conn.header_deadline = timer
        timer.start()
        try:
            return super().handle(conn)
        finally:
            timer.cancel()

    def handle_request(self, req, conn):
        conn.header_deadline.cancel()  # the headers are in: the application has the request
        return super().handle_request(req, conn)
