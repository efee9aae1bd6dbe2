"""An index on the metadata fingerprint: the admin's client list counts each page's
identical registrations with it (clients/admin.py) and its "identical registrations" filter
and fingerprint link look clients up by it. Plain ``AddIndex`` (the embedded SQLite has no
CONCURRENTLY); at 100,000 clients the build takes well under a second, during which only
writes to the clients table wait."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0006_client_token_rate_limit"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="client",
            index=models.Index(fields=["metadata_fingerprint"], name="clients_index_fingerprint"),
        ),
    ]
