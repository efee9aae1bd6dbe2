"""How long the upgrade takes, and how long it blocks writes, when the tables that grow with
use are large. Optional and slow: not part of `make test`.

    .venv/bin/python tests/services.py -- .venv/bin/python tests/release/large_tables.py \\
        [--rows 1000000] [--self-check]

Seeds a PostgreSQL database with the previous release (upgrade_seed.py), copies one row of
each large table until it holds --rows rows, then migrates with this code while sampling
pg_locks every 50 ms from another connection. Prints JSON: each migration applied with its
time, and for each large table the seconds a lock that blocks writes (SHARE or stronger)
was seen held. --self-check first builds an index on the access token table under the same
sampler, to show the sampler sees such a lock. Run it when a release brings a migration
that CHANGELOG.md's Upgrading names, and put the figures there.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.release import harness, releases  # noqa: E402

LARGE = ["authserver_accesstoken", "authserver_refreshtoken", "authserver_grant"]
LARGE += ["authserver_auditevent", "authserver_idtoken"]
BLOCKING = ("ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
SAMPLE = 0.05


def unique_columns(conn, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisunique",
        [table],
    ).fetchall()
    return {r[0] for r in rows}


def fill(conn, table: str, rows: int) -> int:
    """Copies of the table's first row, every unique column made unique again."""
    columns = conn.execute(
        "SELECT column_name, data_type, is_nullable, column_default, character_maximum_length "
        "FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        [table],
    ).fetchall()
    unique = unique_columns(conn, table)
    have = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    missing = rows - have.fetchone()[0]
    if missing <= 0:
        return 0
    names, values = [], []
    for name, kind, nullable, default, length in columns:
        if name not in unique:
            names.append(name)
            values.append(sql.Identifier(name))
        elif default and default.startswith("nextval"):
            continue  # the id: its sequence numbers the copies
        elif kind == "uuid":
            names.append(name)
            values.append(sql.SQL("gen_random_uuid()"))
        elif kind in ("character varying", "text"):
            names.append(name)
            width = sql.Literal(length or 64)
            values.append(sql.SQL("left(md5(random()::text) || g::text, {})").format(width))
        elif nullable == "YES":
            continue  # a one-to-one link or a chain index: the copies have none
        elif kind in ("bigint", "integer"):
            names.append(name)
            values.append(sql.SQL("g + 1000000000"))
        else:
            raise SystemExit(f"{table}.{name}: unique {kind}, cannot copy")
    statement = sql.SQL(
        "INSERT INTO {t} ({names}) SELECT {values} FROM (SELECT * FROM {t} LIMIT 1) one, "
        "generate_series(1, {n}) g"
    ).format(
        t=sql.Identifier(table),
        names=sql.SQL(", ").join(map(sql.Identifier, names)),
        values=sql.SQL(", ").join(values),
        n=sql.Literal(missing),
    )
    conn.execute(statement)
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    return missing


class LockSampler(threading.Thread):
    """Seconds each large table was seen under a lock that blocks writes."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.seen, self.stop = url, {}, threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                held = conn.execute(
                    "SELECT DISTINCT c.relname, l.mode FROM pg_locks l JOIN pg_class c "
                    "ON c.oid = l.relation WHERE l.granted AND l.pid <> pg_backend_pid() "
                    "AND c.relname = ANY(%s) AND l.mode = ANY(%s)",
                    [LARGE, list(BLOCKING)],
                ).fetchall()
                for table, mode in held:
                    key = f"{table} {mode}"
                    self.seen[key] = round(self.seen.get(key, 0) + SAMPLE, 2)
                time.sleep(SAMPLE)


def sampled(url: str, action) -> tuple[dict, float]:
    sampler = LockSampler(url)
    sampler.start()
    started = time.monotonic()
    action()
    elapsed = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    return sampler.seen, round(elapsed, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--self-check", action="store_true")
    args = parser.parse_args()
    base = os.environ["DATABASE_URL"]
    name = f"large_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = base.rsplit("/", 1)[0] + "/" + name
    report: dict = {"rows_per_table": args.rows}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            old = Path(tmp, "old")
            old.mkdir()
            commit = releases.resolve(releases.previous())
            archive = subprocess.run(
                ["git", "archive", commit], cwd=ROOT, capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
            env = harness.environment(url, Path(tmp, "var"))
            harness.seed_with_previous_release(env, old, Path(tmp, "seed.json"))
            started = time.monotonic()
            with psycopg.connect(url, autocommit=True) as conn:
                report["filled"] = {t: fill(conn, t, args.rows) for t in LARGE}
            report["fill_seconds"] = round(time.monotonic() - started, 1)
            if args.self_check:
                report["self_check"] = self_check(url)
            output: list[str] = []

            def migrate() -> None:
                result = subprocess.run(
                    [sys.executable, "manage.py", "migrate", "-v", "2", "--noinput"],
                    cwd=ROOT,
                    env={**env, "PYTHONPATH": str(ROOT)},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                output.append(result.stdout)

            report["locks_held_seconds"], report["migrate_seconds"] = sampled(url, migrate)
            report["migrations"] = re.findall(r"Applying (\S+)\.\.\. OK \(([\d.]+)s\)", output[0])
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    print(json.dumps(report, indent=2))


def self_check(url: str) -> dict:
    def build_index() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE INDEX large_tables_check ON authserver_accesstoken (scope)")
            conn.execute("DROP INDEX large_tables_check")

    seen, seconds = sampled(url, build_index)
    assert any("authserver_accesstoken ShareLock" in k for k in seen), seen
    return {"create_index_seconds": seconds, "locks_held_seconds": seen}


if __name__ == "__main__":
    main()
