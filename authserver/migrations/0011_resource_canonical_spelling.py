"""Recompute Resource.canonical after the canonical form learned RFC 3986 §6.2.2
percent-encoding normalisation and the one-trailing-slash rule (authserver.protocol.resources)."""

from django.db import migrations

from authserver.protocol.resources import canonicalize


def recompute(apps, schema_editor):
    Resource = apps.get_model("authserver", "Resource")
    seen: dict[str, str] = {}
    rows = list(Resource.objects.order_by("pk"))
    for resource in rows:
        canonical = canonicalize(resource.identifier)
        if canonical in seen:
            raise RuntimeError(
                f"resources {seen[canonical]!r} and {resource.identifier!r} now name the same "
                "MCP server (docs/clients.md, 'resource spelling'); delete or rename one first"
            )
        seen[canonical] = resource.identifier
    for resource in rows:
        resource.canonical = canonicalize(resource.identifier)
    Resource.objects.bulk_update(rows, ["canonical"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("authserver", "0010_group_policy_cache_generation")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
