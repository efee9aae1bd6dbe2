"""First-start setup: an admin user and a signing key, once. Safe to run on every start.

A generated password is never printed: in the embedded default it goes to
``var/first-admin-password`` (0600; authserver.firstrun), which ``serve`` points to after
"Serving". Elsewhere (Compose, Kubernetes: a one-off container whose files do not outlive
it) it is printed once, as the only way to see it; set ``ADMIN_PASSWORD`` to avoid that.
"""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from authserver import firstrun
from authserver.keys import keyring as keys


class Command(BaseCommand):
    help = (
        "Create the first admin user if there is none (ADMIN_USERNAME, ADMIN_PASSWORD; "
        "a generated password is saved to var/first-admin-password, 0600, in the embedded "
        "default). Idempotent."
    )

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        with transaction.atomic():
            if User.objects.filter(is_superuser=True).exists():
                self.stdout.write("Admin user exists; nothing to create.")
            else:
                username = os.environ.get("ADMIN_USERNAME", "admin")
                chosen = os.environ.get("ADMIN_PASSWORD")
                password = chosen or secrets.token_urlsafe(18)
                User.objects.create_superuser(username=username, password=password)
                if chosen:
                    where = "with the password from ADMIN_PASSWORD"
                elif settings.CONFIG.embedded:
                    saved = firstrun.save_first_password(settings.CONFIG.var_dir, password)
                    where = f"whose first password is in {firstrun.display_path(saved)} (0600)"
                else:  # a one-off container (Compose, Kubernetes): no file outlives it
                    where = f"with password: {password}\nThis password is shown only once"
                self.stdout.write(self.style.SUCCESS(f"Created admin user {username!r} {where}."))
        # A fresh install signs with a key from the first start; no manual step.
        key = keys.active_key(now=timezone.now())
        self.stdout.write(f"Active signing key: {key.alg} {key.kid}")
