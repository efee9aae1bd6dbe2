"""The embedded default's ``var/`` is private to the account that runs the server.

It holds the SQLite database (live session keys, the admin's included), its ``-wal`` and
``-shm`` files, the generated secrets, the shared file cache and the Celery file broker.
``make_private`` runs at settings import in the embedded default, so in every process that
touches ``var/`` (``migrate``, ``bootstrap``, ``serve`` and the gunicorn and Celery processes
it starts): the process umask becomes 077, so every file created later is 0600 and every
directory 0700 (SQLite gives ``-wal``/``-shm`` its database's mode too); and what an earlier
version left readable (0644 files in a 0755 ``var/``) is tightened on the next start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077


def make_private(var_dir: Path) -> None:
    os.umask(PRIVATE_UMASK)
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(var_dir, 0o700)
    for root, dirs, files in os.walk(var_dir):
        for name in dirs:
            _tighten(Path(root) / name, 0o700)
        for name in files:
            _tighten(Path(root) / name, 0o600)


def _tighten(path: Path, mode: int) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:  # removed meanwhile (a cache entry culled by another process)
        return
    if stat.S_ISLNK(info.st_mode) or stat.S_IMODE(info.st_mode) & ~mode == 0:
        return  # a link is left alone (its target may be anywhere); already private
    try:
        path.chmod(stat.S_IMODE(info.st_mode) & mode)
    except (FileNotFoundError, PermissionError):
        return  # gone, or not ours (a shared host's operator put it there)
