"""Advance the signing-key schedule, force a rotation, or retire a compromised key at once.

Without options it says, per algorithm, what it did (or that nothing was due, and when the
next rotation is), and what ``--now`` would do; ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import json
from datetime import datetime

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
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

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
        results = {alg: keys.rotate(alg, now=now, force=options["now"]) for alg in algs}
        if options["json"]:
            report = {alg: result.__dict__ for alg, result in results.items()}
            self.stdout.write(json.dumps(report, indent=2))
            return
        for alg, result in results.items():
            self.stdout.write(describe(alg, result))
        if not options["now"]:
            self.stdout.write(
                "--now activates a new key immediately; the current one stays published, "
                "verifying the tokens it signed until they expire, then is destroyed."
            )


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "?"


def describe(alg: str, result: keys.RotationResult) -> str:
    """What one algorithm's rotation did, or that nothing was due and what comes next."""
    if result.changed():
        pending = {
            k.kid: k.activates_at
            for k in SigningKey.objects.filter(
                kid__in=result.created, state=SigningKey.State.PENDING
            )
        }
        done = [
            *(f"published {kid}, which activates {when(at)}" for kid, at in pending.items()),
            *(f"activated {kid}" for kid in result.activated),
            *(f"retiring {kid} (published until its tokens expire)" for kid in result.retiring),
            *(f"retired {kid} (private key destroyed)" for kid in result.retired),
        ]
        return f"{alg}: " + "; ".join(done) + "."
    active = SigningKey.objects.filter(alg=alg, state=SigningKey.State.ACTIVE).first()
    pending = SigningKey.objects.filter(alg=alg, state=SigningKey.State.PENDING).first()
    policy = keys.KeyPolicy.from_settings()
    line = f"{alg}: nothing was due. Active key {active.kid} since {when(active.activated_at)}"
    if pending is not None:
        return line + f"; its successor {pending.kid} activates {when(pending.activates_at)}."
    due = active.activated_at + policy.rotation_period
    return line + (
        f"; the next rotation is due {when(due)} (its successor is published "
        f"{when(due - policy.publish_ahead)})."
    )
