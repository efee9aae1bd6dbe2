"""Two indexes fewer on every registration's INSERT (issue 34, registration).

* ``client_secret``: DOT indexes it (and PostgreSQL adds a LIKE twin), but a client is
  found by its ``client_id`` and then its secret, a keyed hash, is compared in constant
  time (authserver.client_secrets); nothing looks a client up by its secret.
* ``metadata_fingerprint``: indexed twice, by ``db_index`` (plus its LIKE twin) and by
  ``clients_index_fingerprint`` (0007), which stays.

Dropping an index touches no row; the reverse rebuilds them.
"""

import oauth2_provider.generators
import oauth2_provider.models
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0007_index_fingerprint"),
    ]

    operations = [
        migrations.AlterField(
            model_name="client",
            name="client_secret",
            field=oauth2_provider.models.ClientSecretField(
                blank=True,
                default=oauth2_provider.generators.generate_client_secret,
                help_text="Client secret for authentication",
                max_length=255,
                verbose_name="client secret",
            ),
        ),
        migrations.AlterField(
            model_name="client",
            name="metadata_fingerprint",
            field=models.CharField(
                blank=True,
                help_text="SHA-256 of the normalised registered metadata: identical registrations share it.",
                max_length=64,
            ),
        ),
    ]
