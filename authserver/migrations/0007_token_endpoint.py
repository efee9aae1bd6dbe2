"""The token endpoint's hot-path cache generation (with its triggers) and hashed codes."""

import hashlib

from django.db import migrations, models

WATCHED = [
    "clients_client",
    "authserver_resourceaccess",
    "authserver_resource",
    "authserver_scope",
    "authserver_signingkey",
    "authserver_tokenexchangepolicy",
]

FUNCTION = """
CREATE OR REPLACE FUNCTION authserver_bump_cache_generation() RETURNS trigger AS $$
BEGIN
    -- A client's last_used_at (and the updated stamp that comes with it) is bookkeeping,
    -- not something a cached decision depends on.
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'clients_client'
       AND (to_jsonb(OLD) - 'last_used_at' - 'updated')
           = (to_jsonb(NEW) - 'last_used_at' - 'updated') THEN
        RETURN NULL;
    END IF;
    -- A fresh number from a sequence, never reused: a rolled-back change leaves the row at
    -- its committed value, and the next committed change cannot land on a value some
    -- process cached under inside that rolled-back transaction.
    UPDATE authserver_cachegeneration
       SET value = nextval('authserver_cache_generation_seq') WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def install_triggers(apps, schema_editor):
    apps.get_model("authserver", "CacheGeneration").objects.get_or_create(id=1)
    if schema_editor.connection.vendor != "postgresql":
        return  # no triggers: authserver.token_endpoint.hotcache does not cache here
    schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS authserver_cache_generation_seq")
    schema_editor.execute(FUNCTION)
    for table in WATCHED:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_cache_generation AFTER INSERT OR UPDATE OR DELETE "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION authserver_bump_cache_generation()"
        )


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in WATCHED:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_cache_generation ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS authserver_bump_cache_generation()")
    schema_editor.execute("DROP SEQUENCE IF EXISTS authserver_cache_generation_seq")


def hash_codes(apps, schema_editor):
    # Codes are stored as SHA-256 hex digests from now on (authserver.validators).
    Grant = apps.get_model("authserver", "Grant")
    for grant in Grant.objects.exclude(code__regex=r"^[0-9a-f]{64}$").only("pk", "code"):
        digest = hashlib.sha256(grant.code.encode()).hexdigest()
        Grant.objects.filter(pk=grant.pk).update(code=digest)


class Migration(migrations.Migration):
    dependencies = [
        ("authserver", "0006_drop_pattern_indexes"),
        ("clients", "0002_registration"),
    ]

    operations = [
        migrations.CreateModel(
            name="CacheGeneration",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(
                        default=1, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(install_triggers, remove_triggers),
        migrations.RunPython(hash_codes, migrations.RunPython.noop),
    ]
