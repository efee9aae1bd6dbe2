"""Re-encrypt stored private keys, upstream secrets and audit sinks' webhook secrets under the
first KEY_ENCRYPTION_KEY."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.upstream import app_secret
from authserver.audit_sinks import delivery
from authserver.keys import secretbox
from authserver.models import SigningKey
from connections import vault


class Command(BaseCommand):
    help = (
        "After putting a new KEY_ENCRYPTION_KEY first (old one still listed), re-encrypt every "
        "stored private key under it; then the old key can be removed. Idempotent."
    )

    def handle(self, *args, **options) -> None:
        kek = settings.CONFIG.key_encryption_keys
        done = 0
        with transaction.atomic():
            for key in SigningKey.objects.select_for_update().exclude(private_jwk_encrypted=""):
                if not secretbox.needs_reencryption(key.private_jwk_encrypted, keys=kek):
                    continue
                plain = secretbox.decrypt(
                    key.private_jwk_encrypted, associated_data=key.kid.encode(), keys=kek
                )
                key.private_jwk_encrypted = secretbox.encrypt(
                    plain, associated_data=key.kid.encode(), keys=kek
                )
                key.save(update_fields=["private_jwk_encrypted"])
                done += 1
            # Upstream client secrets and users' upstream tokens too
            # (docs/CONNECTIONS.md, "Encryption at rest").
            upstream = vault.reseal_all()
            upstream += app_secret.seal_all()  # upstream sign-in providers' client secrets
            sinks = delivery.reseal_secrets()  # audit sinks' webhook secrets
        self.stdout.write(
            json.dumps(
                {"reencrypted": done, "upstream_secrets": upstream, "audit_sink_secrets": sinks}
            )
        )
