"""Repeated failed client authentication, slowed per (client, source address), never locked.

After ``MAX_FAILURES`` final refusals of one ``client_id`` from one address within
``WINDOW`` seconds, that address is answered 429 with ``Retry-After`` for that client until
the window it opened ends (RFC 6585 §4), without the credential being checked: a secret
guesser gets ``MAX_FAILURES`` guesses a minute. The delay is bounded by ``WINDOW`` and
applies to that address only, so nobody can lock a client out from elsewhere (the client's
own requests from its own address go through). Public ids are counted by their SHA-256, the
address as the request's.

Counts live in the shared cache, counted atomically (authserver.ops.cache_atomic: Redis's
``SET NX`` and ``INCR``; a file lock every process shares for the embedded file cache). A
cache that cannot be read slows nobody (the credential check still refuses); it is logged.

The hot path pays nothing: a process reads the shared counts only for pairs it saw fail
itself within the window (``_suspects``), so a client that authenticates never costs a
cache round trip. A guesser spread over N worker processes gets at most N - 1 more guesses
per window before every process checks.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

from django.core.cache import cache

from authserver.errors import TemporarilyUnavailable
from authserver.ops import cache_atomic

log = logging.getLogger("authserver.token_endpoint.client_throttle")
WINDOW = 60  # seconds
MAX_FAILURES = 10
MAX_SUSPECTS = 10_000
_suspects: dict[str, float] = {}  # count key -> when this process last saw it fail
_suspects_lock = threading.Lock()


class SlowDown(TemporarilyUnavailable):
    """Too many failed authentications of this client from this address (RFC 6585 §4)."""

    status = 429

    def __init__(self, *, retry_after: int, client_id: str) -> None:
        super().__init__(
            "too many failed client authentications from this address; try again later",
            detail=f"client {client_id[:100]!r}",
        )
        self.retry_after = retry_after


def _keys(client_id: str, address: str | None) -> tuple[str, str]:
    digest = hashlib.sha256(f"{client_id}\x00{address or ''}".encode()).hexdigest()[:40]
    return f"client-auth-fail:{digest}", f"client-auth-fail-since:{digest}"


def refuse_if_slowed(client_id: str, address: str | None, *, now: float | None = None) -> None:
    """Raise SlowDown when this (client, address) used up its failures in this window."""
    count_key, since_key = _keys(client_id, address)
    seen = _suspects.get(count_key)  # one dict read: atomic under the GIL
    if seen is None or time.monotonic() - seen > WINDOW:
        return  # this process saw no failure of this pair lately: no round trip
    try:
        values = cache.get_many([count_key, since_key])
    except Exception:
        log.warning("client authentication throttle unavailable (cache down)")
        return
    if values.get(count_key, 0) < MAX_FAILURES:
        return
    now = time.time() if now is None else now
    since = values.get(since_key, now)
    if now >= since + WINDOW:
        return  # the window is over (its keys expire with it)
    retry_after = min(WINDOW, max(1, int(since + WINDOW - now) + 1))
    raise SlowDown(retry_after=retry_after, client_id=client_id)


def record_failure(client_id: str, address: str | None, *, now: float | None = None) -> int:
    """Count one final refusal; returns the count in the current window. Both keys expire
    WINDOW seconds after the window's first failure, so the slow-down ends by then."""
    now = time.time() if now is None else now
    count_key, since_key = _keys(client_id, address)
    with _suspects_lock:
        if len(_suspects) >= MAX_SUSPECTS:
            _suspects.clear()
        _suspects[count_key] = time.monotonic()
    try:
        with cache_atomic.serialized("client-auth-throttle"):
            for _ in range(2):
                if cache.add(count_key, 1, WINDOW):
                    cache.set(since_key, now, WINDOW)
                    return 1
                try:
                    return cache.incr(count_key)
                except ValueError:  # expired between add and incr: open a new window
                    continue
    except Exception:
        log.warning("failed client authentication not counted (cache down)")
    return 0
