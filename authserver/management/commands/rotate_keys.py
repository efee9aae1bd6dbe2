"""Advance the signing-key schedule, force a rotation, or retire a compromised key at once."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from authserver.keys import keyring as keys
from authserver.models import SigningKey
from authserver.revocation import service as revocation


class Command(BaseCommand):
    help = (
        "Rotate signing keys. Without options: advance the schedule (what the Celery beat "
        "job does). --now: rotate immediately. --compromised KID: unpublish KID at once, "
        "destroy it and revoke every token it signed."
    )

    def add_arguments(self, parser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--now", action="store_true", help="activate a new key right now")
        group.add_argument("--compromised", metavar="KID", help="emergency: retire KID at once")
        parser.add_argument("--alg", choices=SigningKey.Algorithm.values, default=None)

    def handle(self, *args, **options) -> None:
        now = timezone.now()
        if options["compromised"]:
            kid = options["compromised"]
            if not SigningKey.objects.filter(kid=kid).exists():
                raise CommandError(f"no signing key with kid {kid!r}")
            revoked = revocation.revoke_compromised_key(kid, now=now)
            self.stdout.write(json.dumps({"compromised": kid, "tokens_revoked": revoked}))
            return
        algs = [options["alg"]] if options["alg"] else keys.algorithms_in_use()
        report = {alg: keys.rotate(alg, now=now, force=options["now"]).__dict__ for alg in algs}
        self.stdout.write(json.dumps(report, indent=2))
