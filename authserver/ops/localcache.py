"""A tiny per-process cache with a time-to-live, only for data whose staleness cannot grant
access: the public documents the WSGI fast path serves (authorization server and protected
resource metadata, the JWKS, the signed revocation list; authserver.ops.fastpath).

Each entry lives a few seconds; writes in this process clear it at once (signals in
authserver.apps, and revocation.published after a new list), other processes see changes
within the TTL, inside the verifier's polling bound. Rows that decide access (clients,
resources, policies, providers, keys) are never cached here: the token endpoint reads them
through its generation-checked snapshot (authserver.token_endpoint.hotcache), everything
else from the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
_entries: dict[object, tuple[float, object]] = {}
_lock = threading.Lock()


def get(key: object, loader: Callable[[], T], ttl: float) -> T:
    now = time.monotonic()
    with _lock:
        entry = _entries.get(key)
    if entry is not None and entry[0] > now:
        return entry[1]  # type: ignore[return-value]
    value = loader()
    with _lock:
        _entries[key] = (now + ttl, value)
    return value


def peek(key: object) -> object | None:
    """The live value under ``key``, or None; never loads (for the WSGI fast path)."""
    entry = _entries.get(key)  # a single dict read is atomic under the GIL
    if entry is not None and entry[0] > time.monotonic():
        return entry[1]
    return None


def clear(prefix: str | None = None) -> None:
    with _lock:
        if prefix is None:
            _entries.clear()
        else:
            for key in [k for k in _entries if isinstance(k, tuple) and k[0] == prefix]:
                del _entries[key]
