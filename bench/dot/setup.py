"""Create the plain-DOT bench database and its one confidential client (secret unhashed).

Usage: DOT_DATABASE_URL=... python -m bench.dot.setup CLIENT_ID SECRET
"""

import os
import sys


def main(client_id: str, secret: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.dot.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from oauth2_provider.models import get_application_model

    call_command("migrate", verbosity=0, interactive=False)
    Application = get_application_model()
    Application.objects.filter(client_id=client_id).delete()
    Application.objects.create(
        client_id=client_id,
        client_secret=secret,
        hash_client_secret=False,  # DOT's PBKDF2 would cap it near 10 req/s
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        name="bench machine (plain DOT)",
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
