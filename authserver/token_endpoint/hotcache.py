"""Per-process cache of what every token request reads (clients, resource access, resources,
the signing key), valid only while the database's cache generation is unchanged.

PostgreSQL triggers renew ``authserver_cachegeneration.value`` whenever a watched table
changes (migration 0007), whatever code made the change; except a new client (migration
0019): unknown client ids are never remembered (``Snapshot.get``) and every other entry is
keyed by an existing row, so nothing cached can be about a client that did not exist. A
process remembers the last value it saw and caches under it. The token endpoint's single
write statement succeeds only while the value is still that one (``writer``); an error
decided from the cache, and every answer that grants without that statement (a vended
upstream token), is re-checked against it (``is_current``). On a mismatch the cache is
dropped and the request runs again on fresh rows. So disabling a client, removing its
resource access or rotating a key takes effect on the very next request in every worker, at
no extra round trip on the hot path of issuing.
Elsewhere (SQLite) nothing is cached.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")
MAX_ENTRIES = 20_000
_entries: dict[object, tuple[int, object]] = {}
_known: list[int | None] = [None]  # the generation this process last saw
_lock = threading.Lock()
_MISSING = object()


def enabled() -> bool:
    return connection.vendor == "postgresql"


def current_generation() -> int | None:
    """The committed generation, or None when nothing may be cached."""
    if not enabled():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM authserver_cachegeneration WHERE id = 1")
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def observe(generation: int | None) -> None:
    """Record a generation read from the database; a new one drops every entry."""
    with _lock:
        if generation != _known[0]:
            _entries.clear()
            _known[0] = generation


class Snapshot:
    """The cache as of one generation (None: no caching)."""

    def __init__(self, generation: int | None) -> None:
        self.generation = generation

    def get(self, key: object, loader: Callable[[], T], *, cache_none: bool = False) -> T:
        if self.generation is None:
            return loader()
        entry = _entries.get(key, _MISSING)  # one dict read: atomic under the GIL
        if entry is not _MISSING and entry[0] == self.generation:
            return entry[1]  # type: ignore[return-value]
        value = loader()
        # Unknown client ids are not remembered: guessing them must not fill memory, and a
        # new client does not renew the generation (migration 0019), so a remembered "no
        # such client" would outlive its registration.
        if value is not None or cache_none:
            with _lock:
                if len(_entries) >= MAX_ENTRIES:
                    _entries.clear()
                _entries[key] = (self.generation, value)
        return value


def snapshot() -> Snapshot:
    if not enabled():
        return Snapshot(None)
    if _known[0] is None:  # first request of this process (or no generation row)
        observe(current_generation())
    return Snapshot(_known[0])


def is_current(snap: Snapshot) -> bool:
    """Whether what ``snap`` served is still valid (one read); False drops the cache."""
    if snap.generation is None:
        return True
    generation = current_generation()
    observe(generation)
    return generation == snap.generation


def clear() -> None:
    with _lock:
        _entries.clear()
        _known[0] = None
