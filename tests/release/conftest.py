"""Fixtures of the release tests: the previous release's source tree, a SQLite database it
filled (made once, copied by each test), fresh PostgreSQL databases."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.release import harness, releases


@pytest.fixture(scope="session")
def old_tree(tmp_path_factory) -> Path:
    """The previous release's source, from git archive (no checkout of the shared repository
    is touched)."""
    commit = releases.resolve(releases.previous())
    tree = tmp_path_factory.mktemp("previous-release")
    archive = tree.parent / f"{tree.name}.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "archive", "--format=tar", commit],
            cwd=releases.ROOT,
            stdout=out,
            check=True,
            timeout=120,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    archive.unlink()
    return tree


@pytest.fixture(scope="session")
def sqlite_seeded(old_tree, tmp_path_factory) -> Path:
    """A directory with db.sqlite3, its var/ and seed.json, as the previous release left
    them. Tests copy it (``copy_of``), never change it."""
    tmp = tmp_path_factory.mktemp("sqlite-seeded")
    env = harness.environment(f"sqlite:///{tmp / 'db.sqlite3'}", tmp / "var")
    harness.seed_with_previous_release(env, old_tree, tmp / "seed.json")
    return tmp


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore of the installation tests/services.py runs."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    tool = str(found[-1]) if found else shutil.which(name)
    assert tool, f"{name} not found (Debian package postgresql-client)"
    return tool


@contextlib.contextmanager
def fresh_databases() -> Iterator[Callable[[], str]]:
    base = os.environ.get("DATABASE_URL", "")
    assert base.startswith("postgres"), "run through make test (tests/services.py)"
    made: list[str] = []

    def make() -> str:
        name = f"release_{secrets.token_hex(4)}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        return base.rsplit("/", 1)[0] + "/" + name

    try:
        yield make
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            for name in made:
                drop = sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
                conn.execute(drop)


@pytest.fixture
def postgres_database():
    """Makes fresh, empty databases on the suite's PostgreSQL server (tests/services.py);
    drops them afterwards."""
    with fresh_databases() as make:
        yield make


@pytest.fixture(scope="session")
def postgres_seeded(old_tree, tmp_path_factory):
    """A PostgreSQL database the previous release filled, and a pg_dump -Fc of it taken
    before anything else touched it: (its environment, seed.json, the dump)."""
    tmp = tmp_path_factory.mktemp("postgres-seeded")
    with fresh_databases() as make:
        env = harness.environment(make(), tmp / "var")
        harness.seed_with_previous_release(env, old_tree, tmp / "seed.json")
        dump = tmp / "authserver.dump"
        subprocess.run(
            [pg_tool("pg_dump"), "-Fc", "-f", str(dump), env["DATABASE_URL"]],
            check=True,
            timeout=120,
        )
        yield env, tmp / "seed.json", dump
