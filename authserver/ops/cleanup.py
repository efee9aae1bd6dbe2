"""Removing what can no longer be used, in short set-based batches.

Replaces DOT's ``clear_expired`` for our models: it counted every expired row again before
each batch and handled related rows one at a time (189 s for a million rows in the bench).
Here each batch is one SELECT of ids and one DELETE, in its own short transaction, so
issuance never waits long behind it. What is kept, and why:

- authorization codes for a day after they expire: a replayed code is then still recognised
  and its family revoked (RFC 6749 §4.1.2);
- refresh tokens while their family can still be refreshed (some member is unrevoked,
  within its absolute lifetime and not idle for longer than REFRESH_TOKEN_IDLE_LIFETIME),
  rotated-out ones included: reuse detection needs them;
- access tokens a refresh token still points at, and any access token until it has expired
  (the revocation list is made of the revoked, unexpired ones);
- a token family's row (its revocation cut-off) until a day past its absolute lifetime;
- the audit trail, always.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from authserver.models import AccessToken, DPoPProofJti, Grant, RefreshToken
from authserver.models.tokens import TokenFamily

CODE_KEEP = timedelta(days=1)
# What features keep and purge themselves (enterprise: spent assertion jtis), registered
# from their AppConfig.ready(): name -> purge(now=...) -> rows deleted.
PURGES: dict[str, Callable[..., int]] = {}


def register_purge(name: str, purge: Callable[..., int]) -> None:
    if PURGES.get(name, purge) is not purge:
        raise ImproperlyConfigured(f"purge {name!r} registered twice")
    PURGES[name] = purge


def _batched_delete(queryset, *, batch_size: int) -> int:
    """``DELETE ... WHERE id IN (SELECT id ... ORDER BY id LIMIT n)``, one statement and one
    short transaction per batch, until nothing is left."""
    model = queryset.model
    deleted = 0
    while True:
        batch = queryset.order_by("pk").values("pk")[:batch_size]
        with transaction.atomic():
            # No per-object collector: nothing else points at these rows (the selections,
            # and the detaching of access tokens from old refresh tokens, make sure of it).
            count = model.objects.filter(pk__in=batch)._raw_delete(queryset.db)
        deleted += count
        if count < batch_size:
            return deleted


def purge_expired(*, now: datetime, batch_size: int = 5000) -> dict[str, int]:
    counts = {
        "grants": _batched_delete(
            Grant.objects.filter(expires__lt=now - CODE_KEEP), batch_size=batch_size
        )
    }

    lifetime = timedelta(seconds=settings.CONFIG.refresh_token_lifetime)
    idle = timedelta(seconds=settings.CONFIG.refresh_token_idle_lifetime)
    past_absolute = Q(absolute_expires__lt=now) | Q(
        absolute_expires__isnull=True, created__lt=now - lifetime
    )
    # What validate_refresh_token would still accept: not rotated or revoked, within its
    # absolute lifetime, and its access token expired less than the idle lifetime ago.
    usable = RefreshToken.objects.filter(
        revoked__isnull=True, access_token__expires__gt=now - idle
    ).exclude(past_absolute)
    # A family with no usable member is over: nothing in it can be refreshed, so its
    # rotated-out tokens no longer guard anything (reuse detection protects live families).
    family_over = Q(token_family__isnull=False) & ~Exists(
        usable.filter(token_family=OuterRef("token_family"))
    )
    dead_refresh = RefreshToken.objects.filter(past_absolute | family_over)
    # Access tokens minted from these refresh tokens keep their rows, without the link.
    AccessToken.objects.filter(source_refresh_token__in=dead_refresh.values("pk")).update(
        source_refresh_token=None
    )
    counts["refresh_tokens"] = _batched_delete(dead_refresh, batch_size=batch_size)
    still_referenced = RefreshToken.objects.filter(access_token=OuterRef("pk"))
    counts["access_tokens"] = _batched_delete(
        AccessToken.objects.filter(expires__lt=now).filter(~Exists(still_referenced)),
        batch_size=batch_size,
    )
    counts["dpop_proofs"] = DPoPProofJti.objects.filter(expires_at__lt=now).delete()[0]
    # A family's row (its cut-off, authserver.token_endpoint.families) outlives every token of
    # it: past its absolute lifetime nothing of it can be written or refreshed (a day's
    # margin, like replayed codes).
    counts["token_families"] = _batched_delete(
        TokenFamily.objects.filter(expires_at__lt=now - CODE_KEEP), batch_size=batch_size
    )
    for name, purge in PURGES.items():
        counts[name] = purge(now=now)
    return counts
