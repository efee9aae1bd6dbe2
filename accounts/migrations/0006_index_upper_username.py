"""Case-insensitive lookups of users and groups by name (SCIM ``userName eq``, RFC 7644
§3.4.2.2: caseExact false; uniqueness checks on create and PATCH) are
``UPPER(username::text) = UPPER(%s)`` in Django's PostgreSQL backend: without an index on
that expression every such request scans all of ``auth_user``. The tables belong to
django.contrib.auth, so the indexes are created here, CONCURRENTLY (writes go on during the
build; hence a non-atomic migration). SQLite (the embedded default) runs ``iexact`` as
``LIKE``, which an expression index would not serve: nothing to do there."""

from django.db import migrations

INDEXES = (
    ("accounts_index_user_upper_username", "auth_user", "username"),
    ("accounts_index_group_upper_name", "auth_group", "name"),
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} (UPPER({column}::text))"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0005_scim_provider_binding"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
