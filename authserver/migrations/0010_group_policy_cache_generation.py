"""Group-policy rules join the token endpoint's cache generation (migration 0007's trigger).

The token endpoint caches per process whether a resource restricts anything by group
(authserver.token_endpoint.grants.base); adding or removing a group rule on a resource or
one of its scopes renews the generation, so the next request re-reads the rules.
"""

from django.db import migrations

WATCHED = ["authserver_resource_allowed_groups", "authserver_scope_allowed_groups"]


def watch(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # nothing is cached there
    for table in WATCHED:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_cache_generation AFTER INSERT OR UPDATE OR DELETE "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION authserver_bump_cache_generation()"
        )


def unwatch(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in WATCHED:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_cache_generation ON {table}")


class Migration(migrations.Migration):
    dependencies = [("authserver", "0009_tool_grants")]
    operations = [migrations.RunPython(watch, unwatch)]
