"""Partial indexes the admin's client list counts a page's live tokens and grants with
(clients/admin.py): before them, a client's count visited every token row it ever had
(revoked and expired included), and the list's per-row subquery scanned the access-token
table. The token tables are large, so on PostgreSQL the indexes are built CONCURRENTLY
(token issuance goes on during the build; hence a non-atomic migration); elsewhere (the
embedded SQLite) as a plain index."""

from django.conf import settings
from django.db import migrations, models

INDEXES = (
    (
        "accesstoken",
        models.Index(
            condition=models.Q(("revoked_at__isnull", True)),
            fields=["application", "expires"],
            name="live_tokens_by_client",
        ),
    ),
    (
        "refreshtoken",
        models.Index(
            condition=models.Q(("revoked__isnull", True)),
            fields=["application"],
            name="live_grants_by_client",
        ),
    ),
)


def create(apps, schema_editor):
    for model_name, index in INDEXES:
        model = apps.get_model("authserver", model_name)
        if schema_editor.connection.vendor == "postgresql":
            sql = str(index.create_sql(model, schema_editor))
            sql = sql.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY IF NOT EXISTS", 1)
            schema_editor.execute(sql)
        else:
            schema_editor.add_index(model, index)


def drop(apps, schema_editor):
    for model_name, index in INDEXES:
        model = apps.get_model("authserver", model_name)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index.name}")
        else:
            schema_editor.remove_index(model, index)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("authserver", "0017_audit_sinks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_APPLICATION_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create, drop, elidable=False)],
            state_operations=[
                migrations.AddIndex(model_name=name, index=index) for name, index in INDEXES
            ],
        )
    ]
