"""The upgrade test: a database made and filled by the previous release (deploy/releases.toml,
its source from git), migrated by this code on PostgreSQL and on SQLite, keeps every row
unchanged and every credential working (tests/release/upgrade_verify.py says what is checked).

Each database is its own: a file under tmp_path, or a fresh database on the PostgreSQL server
`make test` started (tests/services.py). Redis is left out: the subprocesses use the file
cache in their own VAR_DIR, so they cannot disturb the suite's cache.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.release import releases

HERE = Path(__file__).resolve().parent
SECRETS = {
    "SECRET_KEY": "test-only-secret-key-0123456789abcdefghijklmnop",
    "KEY_ENCRYPTION_KEY": "test-only-key-encryption-key-0123456789abcdef",
}


@pytest.fixture(scope="module")
def old_tree(tmp_path_factory) -> Path:
    """The previous release's source, from git (never a checkout of the shared repository)."""
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


@pytest.fixture
def postgres_url():
    """A fresh, empty database on the suite's PostgreSQL server; dropped afterwards."""
    base = os.environ.get("DATABASE_URL", "")
    assert base.startswith("postgres"), "run through make test (tests/services.py)"
    name = f"upgrade_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield base.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def environment(database_url: str, var_dir: Path, code: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "PYTHONPATH")
    }
    return {
        **env,
        **SECRETS,
        "DJANGO_SETTINGS_MODULE": "authserver.settings",
        "DATABASE_URL": database_url,
        "VAR_DIR": str(var_dir),
        "ISSUER": "http://127.0.0.1:8000",
        "ACCESS_TOKEN_LIFETIME": "3600",  # the seeded tokens outlive the run
        "LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(code),
    }


def run(script: str, arg: Path, *, code: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, str(HERE / script), str(arg)],
        cwd=code,
        env={**env, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    )
    return result.stdout


def seed_with_previous_release(database_url: str, old_tree: Path, tmp: Path) -> dict:
    env = environment(database_url, tmp / "var", old_tree)
    run("upgrade_seed.py", tmp / "seed.json", code=old_tree, env=env)
    return env


def verify_with_this_code(env: dict[str, str], seed: Path) -> dict:
    report = run("upgrade_verify.py", seed, code=releases.ROOT, env=env)
    return json.loads(report.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def sqlite_seeded(old_tree, tmp_path_factory) -> Path:
    """A SQLite database (with its VAR_DIR and seed.json) the previous release filled; tests
    copy it, never change it."""
    tmp = tmp_path_factory.mktemp("sqlite-seeded")
    seed_with_previous_release(f"sqlite:///{tmp / 'db.sqlite3'}", old_tree, tmp)
    return tmp


def copy_of(seeded: Path, tmp_path: Path) -> dict[str, str]:
    work = tmp_path / "upgrade"
    shutil.copytree(seeded, work)
    return environment(f"sqlite:///{work / 'db.sqlite3'}", work / "var", releases.ROOT)


def assert_everything_checked(report: dict) -> None:
    expected = {"signing_keys": 2, "upstream_secrets": 3, "access_tokens": 3}
    expected |= {"refresh_tokens": 2, "consent": 1, "client_credentials": 1}
    assert {k: report[k] for k in expected} == expected
    assert report["tables"] >= 40
    assert report["rows"] > 200
    assert report["audit_events"] > 0


def test_a_sqlite_database_of_the_previous_release_upgrades_with_every_row(sqlite_seeded, tmp_path):
    env = copy_of(sqlite_seeded, tmp_path)
    assert_everything_checked(verify_with_this_code(env, tmp_path / "upgrade" / "seed.json"))


def test_a_postgresql_database_of_the_previous_release_upgrades_with_every_row(
    old_tree, tmp_path, postgres_url
):
    env = seed_with_previous_release(postgres_url, old_tree, tmp_path)
    assert_everything_checked(verify_with_this_code(env, tmp_path / "seed.json"))


def test_the_upgrade_check_fails_on_a_lost_or_changed_row(sqlite_seeded, tmp_path):
    """What a migration that drops or corrupts a row would look like to the check: the
    snapshot names a row the database lacks and a value the database does not hold."""
    env = copy_of(sqlite_seeded, tmp_path)
    seed = tmp_path / "upgrade" / "seed.json"
    data = json.loads(seed.read_text())
    tokens = data["snapshot"]["authserver_accesstoken"]
    pk, row = next(iter(tokens["rows"].items()))
    tokens["rows"]["999999"] = {**row, tokens["pk"]: "999999"}
    tokens["rows"][pk] = {**row, "scope": "tools:admin"}
    seed.write_text(json.dumps(data))
    result = subprocess.run(
        [sys.executable, str(HERE / "upgrade_verify.py"), str(seed)],
        cwd=releases.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert f"authserver_accesstoken: row {tokens['pk']}=999999 is gone" in result.stderr
    assert f"authserver_accesstoken.scope changed in row {pk}" in result.stderr
