"""The embedded default as ``make run`` starts it, attacked from the same host: its var/ is
private, and slow-loris clients cannot stall it."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.support.deploy import issue_token

ROOT = Path(__file__).resolve().parents[2]
SLOW_CLIENTS = 8  # serve's default: 1 worker x 8 threads
LINE_INTERVAL = 5.0  # seconds between header lines, as the review's slow-loris sent them
MAX_LINES = 24  # a bounded attack: two minutes at most per connection


def modes(var_dir: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(var_dir.stat().st_mode)}
    for path in var_dir.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(var_dir))] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_other_local_users_cannot_read_the_embedded_database_or_its_wal(embedded):
    issue_token(embedded)  # a write: the WAL and its index exist, with live rows in them
    var_dir = Path(embedded.env["VAR_DIR"])
    found = modes(var_dir)
    assert {"authserver.sqlite3", "authserver.sqlite3-wal", "authserver.sqlite3-shm"} <= set(found)
    readable = {
        name: oct(mode)
        for name, mode in found.items()
        if mode & 0o077 or mode != (0o700 if (var_dir / name).is_dir() else 0o600)
    }
    assert readable == {}


def test_a_var_dir_left_readable_by_an_older_version_is_tightened_at_start(tmp_path):
    var_dir = tmp_path / "var"
    (var_dir / "cache").mkdir(parents=True, mode=0o755)
    var_dir.chmod(0o755)
    for name in ("authserver.sqlite3", "authserver.sqlite3-wal", "cache/x.djcache"):
        (var_dir / name).write_text("")
        (var_dir / name).chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    code = (
        "import django, pathlib; django.setup();"
        "pathlib.Path(sys.argv[1], 'created-later').write_text('')"
    )
    subprocess.run(
        [sys.executable, "-c", f"import sys; {code}", str(var_dir)],
        cwd=ROOT,
        env={**env, "VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "authserver.settings"},
        check=True,
        timeout=120,
    )
    found = modes(var_dir)
    assert {"authserver.sqlite3-wal", "cache/x.djcache", "created-later"} <= set(found)
    expected = {name: 0o700 if (var_dir / name).is_dir() else 0o600 for name in found}
    assert found == expected


class SlowLoris:
    """Clients that send a request line and then one header line every LINE_INTERVAL
    seconds, reconnecting when cut off, until stopped (or MAX_LINES lines each)."""

    def __init__(self, port: int) -> None:
        self.port, self.stop = port, threading.Event()
        self.connected = threading.Barrier(SLOW_CLIENTS + 1)
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(SLOW_CLIENTS)]

    def run(self) -> None:
        first = True
        for _attempt in range(MAX_LINES):
            if self.stop.is_set():
                return
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
                try:
                    sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    if first:
                        first = False
                        self.connected.wait(timeout=30)
                    for i in range(MAX_LINES):
                        if self.stop.wait(LINE_INTERVAL):
                            return
                        sock.sendall(f"X-Slow-{i}: 1\r\n".encode())
                except OSError:
                    continue  # cut off by the server: come back at once, as an attacker does

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        self.connected.wait(timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_slow_loris_with_eight_connections_does_not_stall_the_embedded_server(
    embedded,
):
    with SlowLoris(embedded.port) as attack:
        # Every slow client holds a thread by now; the request waits for one to come free.
        attack.stop.wait(LINE_INTERVAL + 1)
        response = httpx.get(embedded.issuer + "/readyz", timeout=60)
        assert all(thread.is_alive() for thread in attack.threads)  # still attacking
    assert response.status_code == 200
