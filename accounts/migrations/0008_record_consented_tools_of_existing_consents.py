"""Record, for each remembered consent made before tools were tracked, the tools its scopes
unlock now: nothing is revoked by the upgrade and nothing added later is granted silently
(CHANGELOG "Upgrading"). Only the new column is written; ``updated_at`` is left alone."""

from django.db import migrations


def record_consented_tools(apps, schema_editor):
    Consent = apps.get_model("accounts", "Consent")
    Scope = apps.get_model("authserver", "Scope")
    tools_by_scope: dict[tuple[int, str], list[str]] = {}
    for resource_id, name, tools in Scope.objects.values_list("resource_id", "name", "tools"):
        tools_by_scope[(resource_id, name)] = list(tools or [])
    rows = Consent.objects.filter(consented_tools=[]).values_list("pk", "resource_id", "scope")
    for pk, resource_id, scope in rows.iterator():
        covered = sorted(
            {t for name in scope.split() for t in tools_by_scope.get((resource_id, name), [])}
        )
        if covered:
            Consent.objects.filter(pk=pk).update(consented_tools=covered)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_consent_consented_tools"),
        ("authserver", "0016_resource_high_risk_tools"),
    ]

    operations = [
        migrations.RunPython(record_consented_tools, migrations.RunPython.noop, elidable=True),
    ]
