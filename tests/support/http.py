"""HTTP helpers: client credentials in a Basic header, and a free loopback port."""

from __future__ import annotations

import base64
import socket


def basic(client_id: str, secret: str) -> str:
    """``Authorization: Basic`` for ``client_id:secret`` as the tests' clients send it (no
    form-urlencoding first; tests/compat/flow.py has the RFC 6749 §2.3.1 one)."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
