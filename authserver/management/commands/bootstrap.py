"""First-start setup: an admin user and a signing key, once. Safe to run on every start."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from authserver.keys import keyring as keys


class Command(BaseCommand):
    help = (
        "Create the first admin user if there is none (ADMIN_USERNAME, ADMIN_PASSWORD; "
        "a generated password is printed once). Idempotent."
    )

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        with transaction.atomic():
            if User.objects.filter(is_superuser=True).exists():
                self.stdout.write("Admin user exists; nothing to create.")
            else:
                username = os.environ.get("ADMIN_USERNAME", "admin")
                password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(18)
                User.objects.create_superuser(username=username, password=password)
                shown = "(from ADMIN_PASSWORD)" if os.environ.get("ADMIN_PASSWORD") else password
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Created admin user {username!r} with password: {shown}\n"
                        "This password is shown only once."
                    )
                )
        # A fresh install signs with a key from the first start; no manual step.
        key = keys.active_key(now=timezone.now())
        self.stdout.write(f"Active signing key: {key.alg} {key.kid}")
