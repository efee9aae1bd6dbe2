"""Removing what can no longer be used, in short set-based batches.

Replaces DOT's ``clear_expired`` for our models: it counted every expired row again before
each batch and handled related rows one at a time (189 s for a million rows in the bench).
Here the table is read in windows of the next rows by id (an index range scan, whatever the
rows hold); what in a window is dead is found with lookups bounded by the window (a primary
key range, the refresh tokens pointing into the window as a range of their unique index,
one index probe per family of the window), never a statement over the whole table, then
locked (``FOR UPDATE SKIP LOCKED``), detached from what points at it and deleted, in one
short transaction per window. So every statement's work is bounded by the window's rows, at
1,000 rows or 1,000,000. The window adapts so a batch takes about TARGET_SECONDS (at most
``batch_size`` rows), so no statement holds locks a token write could wait on for long (the
bench's scale phase, and bench/cleanup_probe.py, report the longest statement, also as
PostgreSQL measured it, against 100 ms). What is kept, and why:

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
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Q

from authserver.models import AccessToken, DPoPProofJti, Grant, RefreshToken
from authserver.models.tokens import TokenFamily

CODE_KEEP = timedelta(days=1)
# Batches: no statement may hold row locks a token write waits on for more than about
# BATCH_BUDGET_SECONDS; each batch aims at TARGET_SECONDS, starting at FIRST_BATCH rows and
# never above MAX_BATCH. A DELETE's foreign-key checks run at its COMMIT (Django's
# constraints are deferred), one index lookup per row, so both grow with the batch: at 1.1M
# rows on the loaded 2-core bench machine 1,000-row batches had a p99 of 15 ms per DELETE and
# 27 ms per COMMIT in PostgreSQL, 500-row batches 6 and 8 ms, in the same total time
# (bench/cleanup_probe.py).
BATCH_BUDGET_SECONDS = 0.1
TARGET_SECONDS = 0.05
MAX_BATCH = 500
FIRST_BATCH = 250
MIN_BATCH = 50
clock = time.monotonic  # what a batch's time is measured with
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


def _windows(model, size: BatchSize) -> Iterator[tuple]:
    """The table in windows of the next ``size.rows`` rows by primary key, whatever they hold:
    (first id, last id). Reading a window is an index-only range scan, so finding what to
    delete costs the same per window wherever the dead rows are."""
    last = None
    while True:
        ids = model.objects.order_by("pk").values_list("pk", flat=True)
        if last is not None:
            ids = ids.filter(pk__gt=last)
        rows = size.rows  # read before the batch: observing it resizes the next window
        window = list(ids[:rows])
        if not window:
            return
        yield window[0], window[-1]
        if len(window) < rows:
            return
        last = window[-1]


def _delete_ids(model, ids: list, before_delete: Callable[[list], None] | None) -> int:
    """One short transaction: lock the rows still there (``FOR UPDATE SKIP LOCKED``: a row a
    token write holds is left for the next run, never waited for), ``before_delete(ids)``,
    then ``DELETE ... WHERE id IN (ids)``. Without ``before_delete`` the lock and the delete
    are one statement, so the locks are never held across a round trip to this process."""
    if before_delete is None and connection.vendor == "postgresql":
        return _lock_and_delete(model, ids)
    locking = model.objects.filter(pk__in=ids).select_for_update(skip_locked=True)
    with transaction.atomic():
        # No per-object collector: nothing else points at these rows (the selections, and
        # before_delete, make sure of it).
        if before_delete is None:
            return model.objects.filter(pk__in=locking.values("pk"))._raw_delete(model.objects.db)
        locked = list(locking.values_list("pk", flat=True))
        if not locked:
            return 0
        before_delete(locked)
        return model.objects.filter(pk__in=locked)._raw_delete(model.objects.db)


def _lock_and_delete(model, ids: list) -> int:
    """PostgreSQL, one statement in autocommit (so its own transaction, committed when it
    ends: no row lock waits on a round trip to this process for the COMMIT)."""
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    # Only the model's table and column names are formatted in; the ids are a parameter.
    sql = (
        f"DELETE FROM {table} WHERE {pk} IN (SELECT {pk} FROM {table}"  # noqa: S608
        f" WHERE {pk} = ANY(%s) FOR UPDATE SKIP LOCKED)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(ids)])
        return cursor.rowcount


def _purge(
    queryset,
    *,
    batch_size: int,
    dead: Callable[[object], list] | None = None,
    before_delete: Callable[[list], None] | None = None,
    delete: Callable[[list], int] | None = None,
) -> int:
    """Delete what ``queryset`` selects, window by window (``_windows``): ``dead(window)``
    (default: the window's ids) names the rows to delete, reading only; then ``_delete_ids``
    (or ``delete(ids)``, which locks, skips locked rows and deletes in one statement).
    A row chosen stays deletable: once a row is dead (expired, past its lifetime, its family
    over) nothing makes it usable again, so choosing outside the transaction is safe."""
    model = queryset.model
    size = BatchSize(batch_size)
    deleted = 0
    for first, last in _windows(model, size):
        started = clock()
        window = queryset.filter(pk__gte=first, pk__lte=last)
        ids = dead(window) if dead is not None else list(window.values_list("pk", flat=True))
        if ids:
            deleted += delete(ids) if delete else _delete_ids(model, ids, before_delete)
        size.observe(clock() - started)
    return deleted


def purge_expired(*, now: datetime, batch_size: int = MAX_BATCH) -> dict[str, int]:
    """Delete what can no longer be used; rows deleted per kind. ``batch_size`` bounds the
    rows of one batch (the adaptive size stays below it)."""
    counts = {
        "grants": _purge(Grant.objects.filter(expires__lt=now - CODE_KEEP), batch_size=batch_size)
    }
    one_statement = connection.vendor == "postgresql"
    counts["refresh_tokens"] = _purge(
        RefreshToken.objects.all(),
        batch_size=batch_size,
        dead=lambda window: dead_refresh_tokens(window, now=now),
        before_delete=None if one_statement else detach_access_tokens,
        delete=delete_refresh_tokens if one_statement else None,
    )
    counts["access_tokens"] = _purge(
        AccessToken.objects.filter(expires__lt=now),
        batch_size=batch_size,
        dead=unreferenced_access_tokens,
    )
    counts["dpop_proofs"] = _purge(
        DPoPProofJti.objects.filter(expires_at__lt=now), batch_size=batch_size
    )
    # A family's row (its cut-off, authserver.token_endpoint.families) outlives every token of
    # it: past its absolute lifetime nothing of it can be written or refreshed (a day's
    # margin, like replayed codes).
    counts["token_families"] = _purge(
        TokenFamily.objects.filter(expires_at__lt=now - CODE_KEEP), batch_size=batch_size
    )
    for name, purge in PURGES.items():
        counts[name] = purge(now=now)
    return counts


def dead_refresh_tokens(window, *, now: datetime) -> list:
    """The window's refresh tokens past their absolute lifetime, or whose family is over.

    Asked per window with the window's families listed (``live_families``: an index lookup
    per family), not as one ``NOT EXISTS`` over the table: PostgreSQL answered that with a
    hashed subplan that read every access token for each batch (2.3 s at a million rows)."""
    past_absolute = _past_absolute(now)
    dead = set(window.filter(past_absolute).values_list("pk", flat=True))
    members = dict(
        window.exclude(pk__in=dead)
        .filter(token_family__isnull=False)
        .values_list("pk", "token_family")
    )
    if members:
        # A family with no refreshable member is over: nothing in it can be refreshed, so
        # its rotated-out tokens no longer guard anything (reuse detection protects live
        # families).
        live = live_families(set(members.values()), now=now)
        dead.update(pk for pk, family in members.items() if family not in live)
    return sorted(dead)


def _past_absolute(now: datetime) -> Q:
    lifetime = timedelta(seconds=settings.CONFIG.refresh_token_lifetime)
    return Q(absolute_expires__lt=now) | Q(
        absolute_expires__isnull=True, created__lt=now - lifetime
    )


def live_families(families: set, *, now: datetime) -> set:
    """Which of ``families`` still have a member validate_refresh_token would accept: not
    rotated or revoked, within its absolute lifetime, and its access token expired less than
    REFRESH_TOKEN_IDLE_LIFETIME ago.

    One probe per family, by design: ``LATERAL (... LIMIT 1)`` cannot be turned into a join,
    so PostgreSQL reads the family index once per listed family and stops at its first
    refreshable member. Asked as ``token_family IN (...)`` over a window's thousand families
    it read the whole refresh-token table instead (a parallel sequential scan, 0.2 s at
    137,000 refresh tokens, growing with the table)."""
    idle = timedelta(seconds=settings.CONFIG.refresh_token_idle_lifetime)
    if connection.vendor != "postgresql":  # the embedded SQLite default: small tables
        return set(
            RefreshToken.objects.filter(
                token_family__in=families,
                revoked__isnull=True,
                access_token__expires__gt=now - idle,
            )
            .exclude(_past_absolute(now))
            .values_list("token_family", flat=True)
        )
    lifetime = timedelta(seconds=settings.CONFIG.refresh_token_lifetime)
    refresh, access = RefreshToken._meta.db_table, AccessToken._meta.db_table
    # Only the models' table names are formatted in; every value is a parameter.
    sql = (
        "SELECT f.family FROM unnest(%s::uuid[]) AS f(family) CROSS JOIN LATERAL ("  # noqa: S608
        f" SELECT 1 FROM {refresh} AS rt JOIN {access} AS at ON at.id = rt.access_token_id"
        " WHERE rt.token_family = f.family AND rt.revoked IS NULL AND at.expires > %s"
        " AND (rt.absolute_expires >= %s"
        " OR (rt.absolute_expires IS NULL AND rt.created >= %s))"
        " LIMIT 1) AS refreshable"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [sorted(families), now - idle, now, now - lifetime])
        return {row[0] for row in cursor.fetchall()}


def delete_refresh_tokens(ids: list) -> int:
    """PostgreSQL: lock what is still there (``SKIP LOCKED``), detach the access tokens minted
    from it and delete it, in one statement: its row locks last as long as the statement
    does in PostgreSQL, never across a round trip to this process (as lock, ``UPDATE`` and
    ``DELETE`` in one transaction did: 0.57 s in the bench's scale phase while this process
    waited for a CPU), nor until a separate COMMIT. The access tokens' foreign key is checked
    at commit, after both."""
    refresh, access = RefreshToken._meta.db_table, AccessToken._meta.db_table
    # Only the models' table names are formatted in; the ids are a parameter.
    sql = (
        f"WITH locked AS (SELECT id FROM {refresh} WHERE id = ANY(%s)"  # noqa: S608
        " FOR UPDATE SKIP LOCKED),"
        f" detached AS (UPDATE {access} SET source_refresh_token_id = NULL"
        " WHERE source_refresh_token_id IN (SELECT id FROM locked))"
        f" DELETE FROM {refresh} WHERE id IN (SELECT id FROM locked)"
    )
    with connection.cursor() as cursor:  # autocommit: the statement is its transaction
        cursor.execute(sql, [list(ids)])
        return cursor.rowcount


def detach_access_tokens(ids: list) -> None:
    """Access tokens minted from these refresh tokens keep their rows, without the link."""
    AccessToken.objects.filter(source_refresh_token__in=ids).update(source_refresh_token=None)


def unreferenced_access_tokens(window) -> list:
    """The window's expired access tokens no refresh token points at (those stay while their
    refresh token does). The refresh tokens pointing into the window are read as a range of
    their unique ``access_token_id`` index, bounded by the window's width."""
    expired = list(window.values_list("pk", flat=True))
    if not expired:
        return []
    referenced = set(
        RefreshToken.objects.filter(
            access_token_id__gte=min(expired), access_token_id__lte=max(expired)
        ).values_list("access_token_id", flat=True)
    )
    return [pk for pk in expired if pk not in referenced]
