"""The access review finds a person by username or email, case-insensitively
(``UPPER(email::text) = UPPER(%s)``, authserver/admin/access_views.py): without an index on
that expression each review scanned all of ``auth_user`` (a million people). Built as
0006_index_upper_username builds its indexes: CONCURRENTLY on PostgreSQL (writes go on
during the build; hence a non-atomic migration), nothing on SQLite, which runs ``iexact``
as ``LIKE``."""

from django.db import migrations

NAME = "accounts_index_user_upper_email"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON auth_user (UPPER(email::text))"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("accounts", "0008_record_consented_tools_of_existing_consents")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
