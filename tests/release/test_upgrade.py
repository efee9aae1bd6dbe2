"""The upgrade test: a database made and filled by the previous release (deploy/releases.toml,
its source from git), migrated by this code on PostgreSQL and on SQLite, keeps every row
unchanged and every credential working (tests/release/upgrade_verify.py says what is checked).
"""

from __future__ import annotations

import json

from tests.release import harness, releases


def test_a_sqlite_database_of_the_previous_release_upgrades_with_every_row(sqlite_seeded, tmp_path):
    env = harness.copy_of(sqlite_seeded, tmp_path)
    report = harness.verify_with_this_code(env, tmp_path / "upgrade" / "seed.json")
    harness.assert_everything_checked(report)


def test_a_postgresql_database_of_the_previous_release_upgrades_with_every_row(
    postgres_seeded,
):
    env, seed, _dump = postgres_seeded
    report = harness.verify_with_this_code(env, seed)
    harness.assert_everything_checked(report)


def test_the_upgrade_check_fails_on_a_lost_or_changed_row(sqlite_seeded, tmp_path):
    """What a migration that drops or corrupts a row would look like to the check: the
    snapshot names a row the database lacks and a value the database does not hold."""
    env = harness.copy_of(sqlite_seeded, tmp_path)
    seed = tmp_path / "upgrade" / "seed.json"
    data = json.loads(seed.read_text())
    tokens = data["snapshot"]["authserver_accesstoken"]
    pk, row = next(iter(tokens["rows"].items()))
    tokens["rows"]["999999"] = {**row, tokens["pk"]: "999999"}
    tokens["rows"][pk] = {**row, "scope": "tools:admin"}
    seed.write_text(json.dumps(data))
    result = harness.run_script("upgrade_verify.py", seed, code=releases.ROOT, env=env)
    assert result.returncode != 0
    assert f"authserver_accesstoken: row {tokens['pk']}=999999 is gone" in result.stderr
    assert f"authserver_accesstoken.scope changed in row {pk}" in result.stderr
