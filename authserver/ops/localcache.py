"""A tiny per-process cache with a time-to-live, for hot read paths.

Used for what every token request reads and what changes rarely: the active signing key,
registered resources and their scopes, the JWKS and metadata documents. Each entry lives a
few seconds; writes in this process clear it at once (signals in authserver.apps), other
processes see changes within the TTL. Nothing here weakens a security decision: a key marked
compromised is named in the revocation list at once, whatever a process still has cached.
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
