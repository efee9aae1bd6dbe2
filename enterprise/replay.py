"""Single use of assertions by ``jti`` (RFC 7523 §3 item 7), in the database.

A row per (issuer, jti), kept until the assertion's ``exp`` (after which the assertion is
refused as expired anyway); the unique constraint decides between concurrent uses. The
database being down surfaces as ``OperationalError``, which the endpoints answer with 503
``temporarily_unavailable`` and ``Retry-After``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import IntegrityError, transaction

from enterprise.models import UsedAssertion


class Replayed(Exception):
    """This (issuer, jti) was used before."""


def seen(issuer: str, jti: str) -> bool:
    """A read-only pre-check, so a replay is refused before anything else is decided."""
    return UsedAssertion.objects.filter(issuer=issuer[:512], jti=jti).exists()


def consume(issuer: str, jti: str, exp: int) -> None:
    """Record the use; raises Replayed if it was recorded already. Runs in a savepoint, so
    inside a caller's transaction a replay leaves that transaction usable."""
    try:
        with transaction.atomic():
            UsedAssertion.objects.create(
                issuer=issuer[:512], jti=jti, expires_at=datetime.fromtimestamp(exp, tz=UTC)
            )
    except IntegrityError:
        raise Replayed from None


def purge_expired(*, now: datetime) -> int:
    deleted, _ = UsedAssertion.objects.filter(expires_at__lt=now).delete()
    return deleted
