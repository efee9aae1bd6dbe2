"""Backup and restore as docs/BACKUP.md describes them: a copy taken from a server's database
(SQLite's online backup, PostgreSQL's pg_dump -Fc), restored into a fresh server that has
only the copy and the same two secrets, keeps every row, and tokens issued before still
verify and refresh (tests/release/upgrade_verify.py; the restore is also an upgrade when the
copy came from the previous release, as here: back up, then upgrade)."""

from __future__ import annotations

import sqlite3
import subprocess

from tests.release import harness, releases
from tests.release.conftest import pg_tool


def sqlite_backup(source, target) -> None:
    """What ``sqlite3 var/authserver.sqlite3 ".backup 'copy.sqlite3'"`` does: SQLite's online
    backup, consistent while the server writes (WAL)."""
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
    live.close()
    copy.close()


def restored_sqlite(sqlite_seeded, tmp_path) -> dict[str, str]:
    """A backup of the seeded server's database, in a fresh server directory: no var/ of
    the old server, only the copy (the secrets come from the environment)."""
    running = harness.copy_of(sqlite_seeded, tmp_path)  # the server being backed up
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    sqlite_backup(running["DATABASE_URL"].removeprefix("sqlite:///"), fresh / "restored.sqlite3")
    (fresh / "seed.json").write_bytes((tmp_path / "upgrade" / "seed.json").read_bytes())
    return harness.environment(f"sqlite:///{fresh / 'restored.sqlite3'}", fresh / "var")


def test_a_sqlite_backup_restored_into_a_fresh_server_keeps_tokens_working(sqlite_seeded, tmp_path):
    env = restored_sqlite(sqlite_seeded, tmp_path)
    report = harness.verify_with_this_code(env, tmp_path / "fresh" / "seed.json")
    harness.assert_everything_checked(report)


def test_a_backup_restored_without_its_key_encryption_key_cannot_sign(sqlite_seeded, tmp_path):
    """Why docs/BACKUP.md keeps KEY_ENCRYPTION_KEY with the backup plan: the private keys and
    upstream tokens in the copy do not open under another key."""
    env = restored_sqlite(sqlite_seeded, tmp_path)
    env["KEY_ENCRYPTION_KEY"] = "another-key-encryption-key-0123456789abcdef"
    result = harness.run_script(
        "upgrade_verify.py", tmp_path / "fresh" / "seed.json", code=releases.ROOT, env=env
    )
    assert result.returncode != 0
    assert "DecryptionError" in result.stderr


def test_a_postgresql_dump_restored_into_a_fresh_database_keeps_tokens_working(
    postgres_seeded, postgres_database, tmp_path
):
    source_env, seed, dump = postgres_seeded
    target = postgres_database()
    subprocess.run(
        [pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "-d", target, str(dump)],
        check=True,
        timeout=120,
    )
    env = harness.environment(target, tmp_path / "var")
    report = harness.verify_with_this_code(env, seed)
    harness.assert_everything_checked(report)
    assert source_env["DATABASE_URL"] != target
