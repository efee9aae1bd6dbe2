"""Atomic operations on the shared cache: windowed counters (the login lockout, the
registration limit, the client-authentication slow-down) and one-holder leases (the refresh
of an upstream connection). One module, so every counter and lease is atomic the same way.

``hit(key, window=..., now=...)`` adds one and returns the new count, atomically, in every
cache the product runs on; the window starts at the first hit and is never extended.

* **Redis** (production): ``SET key 0 EX window NX`` then ``INCR key`` in one MULTI: INCR
  is atomic and keeps the expiry SET gave the key.
* **The file cache** (the embedded default, several processes): Django's ``incr`` there is
  get-then-set, so 45 concurrent registrations counted 26 instead of 45. Here the
  read-modify-write runs under an exclusive ``flock`` on a lock file in the cache directory,
  which serialises threads and processes alike; the value carries its own expiry time.
* **The local-memory cache** (tests, a single process): its ``incr`` holds the cache's lock.

``hit_named_window(key, window=..., now=...)`` is ``hit`` for a key that names its own fixed
window (``...:<now // window>``), so the key's expiry only frees memory and never decides a
count: on Redis a bare ``INCRBY`` (one command, no MULTI: half the CPU of ``hit`` on the
hot path of the token endpoint), with ``EXPIRE`` once, by whoever created the key.

``add_once(key, value, timeout)`` is ``cache.add`` made atomic the same way (Redis's
``SET NX``; the file cache under the same lock).

Any other backend is refused at first use (``ImproperlyConfigured``): a counter that can
lose counts is not a limit.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from django.core.cache import cache, caches
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured


def _backend():
    return caches["default"]


def count_of(value) -> int:
    """A counter's count as read from the cache (the file cache keeps (count, expires))."""
    if isinstance(value, (tuple, list)):
        return int(value[0])
    return int(value or 0)


@contextmanager
def _file_lock(backend: FileBasedCache):
    directory = Path(backend._dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory / ".counters.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def hit(key: str, *, window: int, now: float, amount: int = 1) -> int:
    """Count ``amount`` events under ``key`` for ``window`` seconds from the first; the new
    count."""
    backend = _backend()
    if isinstance(backend, RedisCache):
        raw = backend.make_and_validate_key(key)
        client = backend._cache.get_client(raw, write=True)
        pipe = client.pipeline(transaction=True)
        pipe.set(raw, 0, ex=window, nx=True)
        pipe.incrby(raw, amount)
        return int(pipe.execute()[1])
    if isinstance(backend, FileBasedCache):
        with _file_lock(backend):
            value = backend.get(key)
            if isinstance(value, (tuple, list)) and value[1] > now:
                count, expires = int(value[0]) + amount, float(value[1])
            else:
                count, expires = amount, now + window
            backend.set(key, (count, expires), timeout=max(1, int(expires - now) + 1))
            return count
    if isinstance(backend, LocMemCache):
        backend.add(key, 0, window)
        try:
            return backend.incr(key, amount)
        except ValueError:  # expired between add and incr
            backend.set(key, amount, window)
            return amount
    raise ImproperlyConfigured(f"no atomic counter for the cache backend {type(backend)!r}")


def hit_named_window(key: str, *, window: int, now: float, amount: int = 1) -> int:
    """Count ``amount`` events under ``key``, a key unique to one fixed window; the new
    count. Kept for two windows (a crash between INCRBY and EXPIRE leaves one stale key,
    never a wrong count: the next window has a new key)."""
    backend = _backend()
    if isinstance(backend, RedisCache):
        raw = backend.make_and_validate_key(key)
        client = backend._cache.get_client(raw, write=True)
        count = int(client.incrby(raw, amount))
        if count == amount:  # this call created the key
            client.expire(raw, 2 * window)
        return count
    return hit(key, window=2 * window, now=now, amount=amount)


def add_once(key: str, value, timeout: int) -> bool:
    """Store ``value`` under ``key`` unless something is there already; whether it was stored
    (a lease: exactly one caller gets True while the key lives)."""
    backend = _backend()
    if isinstance(backend, FileBasedCache):
        with _file_lock(backend):
            return bool(backend.add(key, value, timeout))
    if isinstance(backend, RedisCache | LocMemCache):
        return bool(backend.add(key, value, timeout))  # SET NX / the cache's own lock
    raise ImproperlyConfigured(f"no atomic add for the cache backend {type(backend)!r}")


def read_many(keys: list[str]) -> dict[str, int]:
    """The current counts (0 for a key never hit or expired)."""
    values = cache.get_many(keys)
    return {key: count_of(values.get(key)) for key in keys}


def clear(key: str) -> None:
    cache.delete(key)
