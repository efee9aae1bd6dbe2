"""What PostgreSQL did during one load case: wait events, background work, buffer traffic.

A sampler thread on its own connection reads ``pg_stat_activity`` every 50 ms while a case
runs (what each busy backend waits on, and whether autovacuum or a checkpoint is running)
and the cumulative counters before and after (``pg_stat_database`` buffer reads,
``pg_stat_bgwriter`` / ``pg_stat_checkpointer``, per-table autovacuum and HOT-update
counts), and the CPU seconds PostgreSQL and the server's workers used (from /proc): CPU
per request is far less disturbed by other work on a shared machine than requests/s.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import Counter
from pathlib import Path

TABLES = ("authserver_accesstoken", "authserver_refreshtoken", "authserver_auditevent",
          "authserver_grant")  # fmt: skip


def _counters(cur) -> dict:
    out: dict = {}
    cur.execute(
        "SELECT blks_read, blks_hit, tup_inserted, tup_updated, xact_commit "
        "FROM pg_stat_database WHERE datname = current_database()"
    )
    out["db"] = dict(zip(("blks_read", "blks_hit", "tup_ins", "tup_upd", "commits"),
                         cur.fetchone(), strict=True))  # fmt: skip
    cur.execute("SELECT to_regclass('pg_catalog.pg_stat_checkpointer') IS NOT NULL")
    if cur.fetchone()[0]:  # PostgreSQL 17+
        cur.execute("SELECT num_timed + num_requested, buffers_written FROM pg_stat_checkpointer")
        out["checkpoints"], out["checkpoint_buffers"] = cur.fetchone()
        cur.execute("SELECT buffers_clean FROM pg_stat_bgwriter")
        out["bgwriter_buffers"] = cur.fetchone()[0]
    else:
        cur.execute(
            "SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint, buffers_clean, "
            "buffers_backend FROM pg_stat_bgwriter"
        )
        row = cur.fetchone()
        out["checkpoints"], out["checkpoint_buffers"] = row[0], row[1]
        out["bgwriter_buffers"], out["backend_buffers"] = row[2], row[3]
    cur.execute(
        "SELECT relname, autovacuum_count, autoanalyze_count, n_tup_upd, n_tup_hot_upd "
        "FROM pg_stat_user_tables WHERE relname = ANY(%s)",
        [list(TABLES)],
    )
    out["tables"] = {
        r[0]: {"autovacuum": r[1], "autoanalyze": r[2], "upd": r[3], "hot_upd": r[4]}
        for r in cur.fetchall()
    }
    return out


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, CPU ticks user + system) of a process, from /proc (Linux)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def cpu_ticks(roots: dict[str, int]) -> dict[str, int]:
    """CPU ticks used so far by each named root process and its children (one level: the
    postmaster's backends, gunicorn's workers)."""
    out = {name: 0 for name in roots}
    by_root = {pid: name for name, pid in roots.items()}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None:
            continue
        name = by_root.get(int(entry.name)) or by_root.get(stat[0])
        if name:
            out[name] += stat[1]
    return out


def _delta(before, after):
    if isinstance(before, dict):
        return {k: _delta(before.get(k), v) for k, v in after.items()}
    if isinstance(after, int | float) and isinstance(before, int | float):
        return after - before
    return after


class Sampler:
    """``with Sampler(dsn) as s: ...`` then ``s.result``; never fails the case it watches."""

    def __init__(self, dsn: str, interval: float = 0.05, *, server_pid: int | None = None) -> None:
        self.dsn = dsn
        self.server_pid = server_pid
        self.interval = interval
        self.stop = threading.Event()
        self.waits: Counter[str] = Counter()
        self.samples = 0
        self.result: dict = {}

    def __enter__(self) -> Sampler:
        import psycopg

        try:
            self.conn = psycopg.connect(self.dsn, autocommit=True)
            with self.conn.cursor() as cur:
                self.before = _counters(cur)
            # CPU of PostgreSQL (postmaster and every backend) and of the server's workers.
            postmaster = (_stat(self.conn.info.backend_pid) or (0, 0))[0]
            self.roots = {"postgres": postmaster}
            if self.server_pid:
                self.roots["server"] = self.server_pid
            self.cpu_before = cpu_ticks(self.roots)
        except Exception as exc:  # evidence only: never fail the case
            self.conn = None
            self.result = {"error": repr(exc)}
            return self
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        me = self.conn.info.backend_pid
        with self.conn.cursor() as cur:
            while not self.stop.wait(self.interval):
                cur.execute(
                    "SELECT backend_type, state, wait_event_type, wait_event FROM "
                    "pg_stat_activity WHERE pid <> %s AND (state IS NULL OR state <> 'idle')",
                    [me],
                )
                self.samples += 1
                for btype, state, wtype, wevent in cur.fetchall():
                    if btype == "client backend" and state != "active":
                        continue  # idle in transaction etc.: not PostgreSQL's work
                    if btype in ("checkpointer", "background writer", "walwriter",
                                 "autovacuum launcher", "logical replication launcher",
                                 "archiver") and wtype == "Activity":  # fmt: skip
                        continue  # their idle main loops
                    what = f"{wtype}:{wevent}" if wtype else "CPU"
                    self.waits[f"{btype} {what}"] += 1

    def __exit__(self, *exc) -> None:
        if self.conn is None:
            return
        self.stop.set()
        self.thread.join(timeout=5)
        hz = os.sysconf("SC_CLK_TCK")
        after = cpu_ticks(self.roots)
        self.result["cpu_s"] = {
            k: round((after[k] - self.cpu_before[k]) / hz, 2) for k in self.roots
        }
        with contextlib.suppress(Exception), self.conn.cursor() as cur:
            self.result["delta"] = _delta(self.before, _counters(cur))
        self.result["samples"] = self.samples
        # Average number of backends in each state per sample (1.0 = one backend all the time).
        self.result["busy"] = {
            k: round(v / max(self.samples, 1), 3) for k, v in self.waits.most_common(12)
        }
        with contextlib.suppress(Exception):
            self.conn.close()
