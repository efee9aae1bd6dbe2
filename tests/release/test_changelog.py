"""CHANGELOG.md, deploy/releases.toml and pyproject.toml agree, and every migration since the
last release that rewrites or locks a large table is named in the changelog's Upgrading."""

from __future__ import annotations

import re
import tomllib

import pytest
from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from packaging.version import Version

from authserver import version
from tests.release import releases

CHANGELOG = (releases.ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
SECTION = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.M)

# Tables that grow with use (a row per token, grant, audit event, proof, assertion).
LARGE_TABLES = {
    ("authserver", "accesstoken"),
    ("authserver", "refreshtoken"),
    ("authserver", "grant"),
    ("authserver", "idtoken"),
    ("authserver", "auditevent"),
    ("authserver", "dpopproofjti"),
    ("enterprise", "usedassertion"),
    ("connections", "connection"),
    ("accounts", "consent"),
}
# On PostgreSQL these rewrite the table or hold a lock for a scan or an index build.
LOCKING_OPERATIONS = (
    migrations.AlterField,
    migrations.AddIndex,
    migrations.AddConstraint,
    migrations.AlterUniqueTogether,
    migrations.AlterIndexTogether,
)


def sections() -> dict[str, str]:
    found = list(SECTION.finditer(CHANGELOG))
    bodies = {}
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(CHANGELOG)
        bodies[match["name"]] = CHANGELOG[match.end() : end]
    return bodies


def test_every_release_has_a_dated_changelog_section_with_upgrading():
    dated = {m["name"]: m["date"] for m in SECTION.finditer(CHANGELOG)}
    body = sections()
    for release in releases.all_releases():
        assert dated.get(release.version) == release.date, release.version
        assert "### Upgrading" in body[release.version], release.version
    assert "### Upgrading" in body["Unreleased"]


def test_releases_are_ordered_and_name_full_commits():
    recorded = releases.all_releases()
    versions = [Version(r.version) for r in recorded]
    assert versions == sorted(set(versions))
    for release in recorded:
        assert re.fullmatch(r"[0-9a-f]{40}", release.commit)
        assert release.tag == f"v{release.version}"


def test_the_version_is_pyproject_s_and_not_behind_the_last_release():
    pyproject = tomllib.loads((releases.ROOT / "pyproject.toml").read_text())
    assert version.current() == pyproject["project"]["version"]
    # At a release commit it equals the release; after it, a later (dev) version.
    assert Version(version.current()) >= Version(releases.previous().version)


def long_operations(migration) -> list[str]:
    """What in ``migration`` rewrites, scans or locks a large table (or may: RunPython can
    touch any table; RunSQL counts when its SQL names one)."""
    found = []
    for op in migration.operations:
        if isinstance(op, migrations.RunPython):
            found.append("RunPython")  # its code may read or write any table
            continue
        if isinstance(op, migrations.RunSQL):
            statements = str(op.sql).lower()
            if any(f"{app}_{model}" in statements for app, model in LARGE_TABLES):
                found.append("RunSQL")
            continue
        model = getattr(op, "model_name", None) or getattr(op, "name", "")
        if (migration.app_label, model.lower()) not in LARGE_TABLES:
            continue
        if isinstance(op, LOCKING_OPERATIONS):
            found.append(f"{type(op).__name__} on {model}")
        elif isinstance(op, migrations.AddField) and (op.field.db_index or op.field.unique):
            found.append(f"AddField with an index on {model}")
    return found


def test_a_runpython_on_the_token_table_is_found():
    class Migration(migrations.Migration):
        operations = [
            migrations.RunPython(migrations.RunPython.noop),
            migrations.RunSQL("UPDATE authserver_refreshtoken SET jkt = ''"),
            migrations.RunSQL("CREATE INDEX resource_name ON authserver_resource (name)"),
            migrations.AlterField("accesstoken", "token", field=None),
            migrations.AlterField("resource", "name", field=None),
        ]

    found = long_operations(Migration("0099_rehash", "authserver"))
    assert found == ["RunPython", "RunSQL", "AlterField on accesstoken"]


def new_migrations() -> list[tuple[str, str]]:
    """Migrations in this tree that the previous release did not have."""
    commit = releases.resolve(releases.previous())
    released = set(releases.files_at(commit, "*migrations/*.py"))
    loader = MigrationLoader(None, ignore_no_migrations=True)
    ours = {"authserver", "accounts", "clients", "connections", "enterprise"}
    return sorted(
        key
        for key, migration in loader.disk_migrations.items()
        if key[0] in ours and f"{migration.__module__.replace('.', '/')}.py" not in released
    )


@pytest.mark.parametrize(
    "app_label", ["authserver", "accounts", "clients", "connections", "enterprise"]
)
def test_released_migrations_are_never_renamed_or_removed(app_label):
    commit = releases.resolve(releases.previous())
    released = {
        path
        for path in releases.files_at(commit, f"{app_label}/migrations/*.py")
        if not path.endswith("__init__.py")
    }
    here = {
        str(p.relative_to(releases.ROOT))
        for p in (releases.ROOT / app_label / "migrations").glob("*.py")
    }
    assert released <= here, f"released migrations missing: {sorted(released - here)}"


def test_migrations_that_take_long_on_large_tables_are_in_the_changelog():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    upgrading = sections()["Unreleased"].split("### Upgrading", 1)[1]
    missing = []
    for key in new_migrations():
        found = long_operations(loader.disk_migrations[key])
        if found and f"{key[0]}.{key[1]}" not in upgrading:
            missing.append(f"{key[0]}.{key[1]} ({', '.join(found)})")
    assert not missing, (
        "name these under [Unreleased] ### Upgrading in CHANGELOG.md, with what they do to "
        f"large tables: {missing}"
    )
