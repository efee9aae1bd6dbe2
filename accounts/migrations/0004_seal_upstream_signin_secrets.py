"""Encrypt the upstream sign-in providers' client secrets stored in clear (allauth SocialApp)."""

from django.db import migrations

from accounts.upstream import app_secret


def seal(apps, schema_editor):
    app_secret.seal_all(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_consent_declined_tools"),
        ("socialaccount", "0006_alter_socialaccount_extra_data"),
    ]

    operations = [migrations.RunPython(seal, migrations.RunPython.noop)]
