"""Cedar policies join the cache generation (authserver migration 0007's trigger function):
any change renews it, so a PDP decision taken on cached policies is confirmed or redone."""

from django.db import migrations

TABLE = "authzen_cedarpolicy"


def watch(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # nothing is cached there
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_cache_generation AFTER INSERT OR UPDATE OR DELETE "
        f"ON {TABLE} FOR EACH ROW EXECUTE FUNCTION authserver_bump_cache_generation()"
    )


def unwatch(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_cache_generation ON {TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("authzen", "0001_cedar_policies"),
        ("authserver", "0010_group_policy_cache_generation"),
    ]
    operations = [migrations.RunPython(watch, unwatch)]
