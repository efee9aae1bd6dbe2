"""Per-process cache of what every token request reads (clients, resource access, resources,
the signing key), valid only while the database's cache generation is unchanged.

PostgreSQL triggers renew ``authserver_cachegeneration.value`` whenever a watched table
changes (migration 0007), whatever code made the change. Each request reads that one value
first (one indexed primary-key read); an entry cached under another value is reloaded. So
disabling a client, removing its resource access or rotating a key takes effect on the very
next request in every worker. Elsewhere (SQLite) nothing is cached.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")
MAX_ENTRIES = 20_000
_entries: dict[object, tuple[int, object]] = {}
_lock = threading.Lock()
_MISSING = object()


def current_generation() -> int | None:
    """The committed generation, or None when nothing may be cached."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM authserver_cachegeneration WHERE id = 1")
        row = cursor.fetchone()
    return None if row is None else int(row[0])


class Snapshot:
    """The cache as of one generation, read once at the start of a request."""

    def __init__(self, generation: int | None) -> None:
        self.generation = generation

    def get(self, key: object, loader: Callable[[], T], *, cache_none: bool = False) -> T:
        if self.generation is None:
            return loader()
        entry = _entries.get(key, _MISSING)  # one dict read: atomic under the GIL
        if entry is not _MISSING and entry[0] == self.generation:
            return entry[1]  # type: ignore[return-value]
        value = loader()
        # Unknown client ids are not remembered: guessing them must not fill memory.
        if value is not None or cache_none:
            with _lock:
                if len(_entries) >= MAX_ENTRIES:
                    _entries.clear()
                _entries[key] = (self.generation, value)
        return value


def snapshot() -> Snapshot:
    return Snapshot(current_generation())


def clear() -> None:
    with _lock:
        _entries.clear()
