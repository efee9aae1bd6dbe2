"""Tool grants (RFC 9396): authorization_details on codes and access tokens, the ToolPolicy
model, and its cache-generation trigger (the token endpoint caches policy rules per process,
authserver.token_endpoint.hotcache; the trigger function is migration 0007's)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def watch_tool_policy(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # nothing is cached there
    schema_editor.execute(
        "CREATE TRIGGER authserver_toolpolicy_cache_generation AFTER INSERT OR UPDATE OR DELETE "
        "ON authserver_toolpolicy FOR EACH ROW EXECUTE FUNCTION authserver_bump_cache_generation()"
    )


def unwatch_tool_policy(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS authserver_toolpolicy_cache_generation ON authserver_toolpolicy"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authserver", "0008_group_policy"),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_APPLICATION_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="accesstoken",
            name="authorization_details",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="grant",
            name="authorization_details",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="ToolPolicy",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "effect",
                    models.CharField(
                        choices=[("allow", "allow"), ("deny", "deny")],
                        default="allow",
                        max_length=5,
                    ),
                ),
                (
                    "tools",
                    models.JSONField(
                        default=list,
                        help_text='Tool names of this resource, e.g. ["add_note"]; "*" = all.',
                    ),
                ),
                (
                    "constraints",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text='Allow rules only: argument constraints for every listed tool, e.g. {"text": {"prefix": "todo:"}}. Keys: const, enum, prefix, pattern, maximum.',
                    ),
                ),
                ("enabled", models.BooleanField(default=True)),
                (
                    "note",
                    models.CharField(blank=True, help_text="Why this rule exists.", max_length=200),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "client",
                    models.ForeignKey(
                        blank=True,
                        help_text="Only this client (leave client and group empty for everyone).",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tool_policies",
                        to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
                    ),
                ),
                (
                    "group",
                    models.ForeignKey(
                        blank=True,
                        help_text="Only users of this group.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tool_policies",
                        to="auth.group",
                    ),
                ),
                (
                    "resource",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tool_policies",
                        to="authserver.resource",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "tool policies",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("client__isnull", False), ("group__isnull", False), _negated=True
                        ),
                        name="tool_policy_client_or_group",
                    )
                ],
            },
        ),
        migrations.RunPython(watch_tool_policy, unwatch_tool_policy),
    ]
