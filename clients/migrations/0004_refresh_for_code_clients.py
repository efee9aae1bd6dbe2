"""Self-registered authorization-code clients also hold the refresh_token grant.

Registration now grants ``refresh_token`` next to ``authorization_code`` (docs/compatibility.md:
clients that never register it, such as the MCP TypeScript SDK's default, would otherwise send
their user back to the browser each time an access token expires). Clients registered before
get the same, so the rule does not depend on when a client registered. Admin-created clients
keep what the admin chose.
"""

from django.db import migrations

SELF_REGISTERED = ("dcr", "cimd")


def grant_refresh_to_code_clients(apps, schema_editor):
    Client = apps.get_model("clients", "Client")
    for client in Client.objects.filter(registration_source__in=SELF_REGISTERED).iterator():
        grants = list(client.grant_types or [])
        if "authorization_code" in grants and "refresh_token" not in grants:
            client.grant_types = ["authorization_code", "refresh_token"] + [
                g for g in grants if g not in ("authorization_code", "refresh_token")
            ]
            client.save(update_fields=["grant_types"])


class Migration(migrations.Migration):
    dependencies = [("clients", "0003_private_key_jwt")]

    operations = [
        migrations.RunPython(grant_refresh_to_code_clients, migrations.RunPython.noop),
    ]
