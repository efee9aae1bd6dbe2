"""The partial index registration's duplicate collapse reads (clients.policy). Plain
``AddIndex`` (the embedded SQLite has no CONCURRENTLY); at 100,000 clients the build takes
well under a second, during which only writes to the clients table wait."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0004_refresh_for_code_clients"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="client",
            index=models.Index(
                condition=models.Q(
                    ("last_used_at__isnull", True),
                    ("registration_source", "dcr"),
                    ("verified", False),
                ),
                fields=["metadata_fingerprint", "registered_from", "created"],
                name="clients_index_dup_candidates",
            ),
        ),
    ]
