"""Removing what can no longer be used, in short set-based batches.

Replaces DOT's ``clear_expired`` for our models: it counted every expired row again before
each batch and handled related rows one at a time (189 s for a million rows in the bench).
Here each batch locks the next few hundred matching rows (``FOR UPDATE SKIP LOCKED``, going
on from the last id), detaches what points at them and deletes them, in its own short
transaction; the rows per batch adapt so a batch takes about 30 ms (at most ``batch_size``
rows), so a token write never waits long behind it (under 100 ms at a million rows in the
bench, "Scale"). What is kept, and why:

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

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from authserver.models import AccessToken, DPoPProofJti, Grant, RefreshToken
from authserver.models.tokens import TokenFamily

CODE_KEEP = timedelta(days=1)
# Batches: no statement may hold row locks a token write waits on for more than about
# BATCH_BUDGET_SECONDS; each batch aims at TARGET_SECONDS, starting at FIRST_BATCH rows.
BATCH_BUDGET_SECONDS = 0.1
TARGET_SECONDS = 0.03
FIRST_BATCH = 500
MIN_BATCH = 50
# What features keep and purge themselves (enterprise: spent assertion jtis), registered
# from their AppConfig.ready(): name -> purge(now=...) -> rows deleted.
PURGES: dict[str, Callable[..., int]] = {}


def register_purge(name: str, purge: Callable[..., int]) -> None:
    if PURGES.get(name, purge) is not purge:
        raise ImproperlyConfigured(f"purge {name!r} registered twice")
    PURGES[name] = purge


class BatchSize:
    """Rows per batch: at most ``limit``, adapted so one batch's transaction takes about
    TARGET_SECONDS (it grows at most twofold, and shrinks in proportion, after each batch).
    A batch's statements hold their row locks only for that long, so a token write waiting
    behind one waits well under BATCH_BUDGET_SECONDS."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.rows = min(self.limit, FIRST_BATCH)

    def observe(self, seconds: float) -> None:
        factor = 2.0 if seconds <= 0 else min(2.0, TARGET_SECONDS / seconds)
        self.rows = max(min(MIN_BATCH, self.limit), min(self.limit, int(self.rows * factor)))


def _batched_delete(
    queryset, *, batch_size: int, before_delete: Callable[[list], None] | None = None
) -> int:
    """Delete what ``queryset`` selects in batches, each its own short transaction: lock the
    next rows that still match (``FOR UPDATE SKIP LOCKED``: a row a token write holds is left
    for the next run, never waited for), ``before_delete(ids)``, then ``DELETE ... WHERE id IN
    (ids)``. The scan goes on from the last id, so rows kept are read once, not once a batch."""
    model = queryset.model
    deleted, last = 0, None
    size = BatchSize(batch_size)
    while True:
        pending = queryset if last is None else queryset.filter(pk__gt=last)
        started = time.monotonic()
        with transaction.atomic(using=queryset.db):
            ids = list(
                pending.order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[: size.rows]
            )
            if ids:
                if before_delete is not None:
                    before_delete(ids)
                # No per-object collector: nothing else points at these rows (the selections,
                # and before_delete, make sure of it).
                deleted += model.objects.filter(pk__in=ids)._raw_delete(queryset.db)
        batch_rows = size.rows
        size.observe(time.monotonic() - started)
        if len(ids) < batch_rows:
            return deleted
        last = ids[-1]


def purge_expired(*, now: datetime, batch_size: int = 5000) -> dict[str, int]:
    """Delete what can no longer be used; rows deleted per kind. ``batch_size`` bounds the
    rows of one batch (the adaptive size stays below it)."""
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

    def detach_access_tokens(ids: list) -> None:
        # Access tokens minted from these refresh tokens keep their rows, without the link.
        AccessToken.objects.filter(source_refresh_token__in=ids).update(source_refresh_token=None)

    counts["refresh_tokens"] = _batched_delete(
        dead_refresh, batch_size=batch_size, before_delete=detach_access_tokens
    )
    still_referenced = RefreshToken.objects.filter(access_token=OuterRef("pk"))
    counts["access_tokens"] = _batched_delete(
        AccessToken.objects.filter(expires__lt=now).filter(~Exists(still_referenced)),
        batch_size=batch_size,
    )
    counts["dpop_proofs"] = _batched_delete(
        DPoPProofJti.objects.filter(expires_at__lt=now), batch_size=batch_size
    )
    # A family's row (its cut-off, authserver.token_endpoint.families) outlives every token of
    # it: past its absolute lifetime nothing of it can be written or refreshed (a day's
    # margin, like replayed codes).
    counts["token_families"] = _batched_delete(
        TokenFamily.objects.filter(expires_at__lt=now - CODE_KEEP), batch_size=batch_size
    )
    for name, purge in PURGES.items():
        counts[name] = purge(now=now)
    return counts
