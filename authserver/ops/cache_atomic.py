"""Atomic check-and-set on the shared cache, whatever its backend.

Redis's ``SET NX`` (``cache.add``) and ``INCR`` (``cache.incr``) are atomic. The embedded
default's file cache reads then writes, so there the operation runs under an exclusive
``flock`` on one file every process of the installation shares (the cache directory is
shared by all of them already). Used by the client-authentication slow-down and by the
one-refresh-at-a-time lease of upstream connections.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings


@contextmanager
def serialized(name: str) -> Iterator[None]:
    backend = settings.CACHES["default"]["BACKEND"]
    if not backend.endswith("FileBasedCache"):
        yield  # Redis (and local memory, one process): the operations are atomic already
        return
    lock = Path(settings.CACHES["default"]["LOCATION"]) / f"{name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
