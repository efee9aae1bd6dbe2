"""Connecting, refreshing and cutting off connections: every write to a Connection.

Refresh runs outside any database transaction or row lock (STYLE §4: no network call inside
one). One refresh at a time per connection: a lease in the shared cache (``SET NX``, or a
file lock for the embedded file cache); other vends wait for it, bounded, then read the
stored result. The upstream's answer is recorded at once (``pending`` in the shared cache,
sealed as in the database) before the local write, and the write stores it only over the
refresh token it was obtained with (compare and set). If that write fails (the database
refuses the commit, the process dies), the next refresh or vend applies the record first:
idempotent, so a rotated refresh token is never lost and the connection keeps working.
Everything else validates first, then writes in one transaction, with network calls after
commit.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from celery import shared_task
from django.core.cache import cache
from django.db import OperationalError, transaction
from django.db import connection as db_connection
from django.db.models import Q

from authserver import audit
from authserver.ops import counters
from connections import upstream, vault
from connections.models import Connection, UpstreamProvider

log = logging.getLogger("connections")

REFRESH_FRACTION = 0.8  # refresh ahead of expiry, at 80% of the token's lifetime
# The beat job's period (authserver.settings "refresh-upstream-connections" uses the same) and
# how far ahead it looks: a token that would expire before the job's next run, plus time for
# the queued refresh to run, is refreshed now, whatever 80% of its lifetime says (a 75 s
# token, due at 60 s, would otherwise wait up to a whole period past its expiry).
REFRESH_JOB_INTERVAL = timedelta(seconds=60)
REFRESH_LOOKAHEAD = REFRESH_JOB_INTERVAL + timedelta(seconds=30)
MIN_REMAINING = timedelta(seconds=60)  # a vend never hands out a token closer to expiry
MAX_FAILURES = 3  # consecutive refresh failures before the connection is broken
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
LOCK_TIMEOUT = "20s"
LEASE_SECONDS = 20  # one upstream refresh at a time per connection; others wait this long
PENDING_SECONDS = 7 * 24 * 3600  # how long an uncommitted rotation stays recoverable
WAIT_STEP = 0.05
# What a refresh writes on the row: recorded before the write, applied idempotently.
REFRESHED_FIELDS = (
    "access_token_encrypted",
    "refresh_token_encrypted",
    "access_expires_at",
    "refresh_at",
    "scopes",
    "status",
    "failures",
    "last_error",
    "last_refreshed_at",
    "upstream_revoke_pending",
)


def backoff(failures: int) -> timedelta:
    """Exponential: 30 s, 60 s, 120 s... capped at an hour."""
    return min(BACKOFF_BASE * (2 ** max(failures - 1, 0)), BACKOFF_MAX)


def store_tokens(conn: Connection, tokens: upstream.UpstreamTokens, *, now: datetime) -> None:
    """Put fresh tokens on ``conn`` (not saved). RFC 6749 §6: a refresh response without
    a refresh token leaves the old one in force."""
    vault.seal(conn, "access_token_encrypted", tokens.access_token)
    if tokens.refresh_token:
        vault.seal(conn, "refresh_token_encrypted", tokens.refresh_token)
    lifetime = tokens.expires_in
    if not lifetime and conn.refresh_token_encrypted:
        lifetime = conn.provider.default_access_lifetime
    conn.access_expires_at = now + timedelta(seconds=lifetime) if lifetime else None
    can_refresh = bool(conn.refresh_token_encrypted and lifetime)
    conn.refresh_at = now + timedelta(seconds=lifetime * REFRESH_FRACTION) if can_refresh else None
    conn.scopes = tokens.scope
    conn.status = Connection.Status.ACTIVE
    conn.failures = 0
    conn.last_error = ""
    conn.last_refreshed_at = now
    conn.upstream_revoke_pending = False


def complete_connect(
    user,
    provider: UpstreamProvider,
    *,
    code: str,
    redirect_uri: str,
    verifier: str,
    now: datetime,
    nonce: str = "",
) -> Connection:
    """The user came back from the provider with a code: redeem it (an ID token, if any,
    must carry ``nonce``), then store the result."""
    tokens = upstream.exchange_code(
        provider, code=code, redirect_uri=redirect_uri, verifier=verifier, nonce=nonce
    )
    account = upstream.fetch_account(provider, access_token=tokens.access_token)
    with transaction.atomic():
        conn, _ = Connection.objects.select_for_update().get_or_create(user=user, provider=provider)
        conn.refresh_token_encrypted = ""  # a new grant: never keep the old refresh token
        store_tokens(conn, tokens, now=now)
        conn.account = account
        conn.save()
        audit.record(
            "connection.connected",
            user_id=user.pk,
            scope=conn.scopes,
            detail={"provider": provider.slug, "connection": str(conn.uid)},
            at=now,
        )
    return conn


def _lock(pk: int) -> Connection:
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    return Connection.objects.select_for_update().select_related("provider").get(pk=pk)


def expires_before_next_run(conn: Connection, *, now: datetime) -> bool:
    """A healthy refreshable token that would expire before the job runs again (and its
    queued refresh ran): the job refreshes it now. Not while backing off (``failures``)."""
    return (
        conn.refresh_at is not None
        and conn.failures == 0
        and conn.access_expires_at is not None
        and conn.access_expires_at <= now + REFRESH_LOOKAHEAD
    )


def needs_refresh(conn: Connection, *, now: datetime, vend: bool) -> bool:
    """The job refreshes what is due (80% of the lifetime, a backoff elapsed, or a token
    that would expire before its next run). A vend refreshes only a token about to expire,
    and not while backing off."""
    if conn.status != Connection.Status.ACTIVE or not conn.provider.enabled:
        return False
    if not conn.refresh_token_encrypted:
        return False
    due = conn.refresh_at is not None and conn.refresh_at <= now
    if not vend:
        return due or expires_before_next_run(conn, now=now)
    expiring = conn.access_expires_at is not None and conn.access_expires_at - now < MIN_REMAINING
    return expiring and (due or conn.failures == 0)


def refresh_connection(pk: int, *, now: datetime, vend: bool = False) -> Connection:
    """Refresh if (re-checked on current rows) still needed; idempotent. The upstream call
    holds no database lock and runs in no transaction."""
    conn = recover_pending(pk)
    if not needs_refresh(conn, now=now, vend=vend):
        return conn
    uid = conn.uid
    if not _take_lease(uid):
        # Another worker is refreshing it: wait (bounded) and use what it stored.
        _wait_for_lease(uid)
        return recover_pending(pk)
    try:
        conn = recover_pending(pk)  # re-read under the lease
        if not needs_refresh(conn, now=now, vend=vend):
            return conn
        used = conn.refresh_token_encrypted
        try:
            tokens = upstream.refresh(
                conn.provider,
                refresh_token=vault.open_(conn, "refresh_token_encrypted"),
                scope=conn.scopes,
            )
        except upstream.UpstreamError as exc:
            with transaction.atomic():
                row = _lock(pk)
                if row.refresh_token_encrypted == used:  # nobody stored a newer one meanwhile
                    record_failure(row, exc, now=now)
            return row
        store_tokens(conn, tokens, now=now)  # on the unsaved object: sealed for this row
        pending = {name: getattr(conn, name) for name in REFRESHED_FIELDS}
        # Before anything can lose it: the upstream may have rotated the refresh token.
        _record_pending(uid, {"used": used, "fields": pending})
        return _apply_pending(pk, used, pending, now=now)
    finally:
        _release_lease(uid)


# Keyed by the connection's uid, never its pk: unique even across databases sharing a cache.
def _lease_key(uid) -> str:
    return f"connections:refresh-lease:{uid}"


def _pending_key(uid) -> str:
    return f"connections:refresh-pending:{uid}"


def _take_lease(uid) -> bool:
    try:
        return counters.add_once(_lease_key(uid), 1, LEASE_SECONDS)
    except Exception:
        log.warning("refresh lease unavailable (cache down); refreshing without it")
        return True  # the compare-and-set write still keeps the newest tokens


def _release_lease(uid) -> None:
    try:
        cache.delete(_lease_key(uid))
    except Exception:
        log.warning("refresh lease not released (cache down); it expires by itself")


def _wait_for_lease(uid) -> None:
    deadline = time.monotonic() + LEASE_SECONDS
    while time.monotonic() < deadline:
        try:
            if cache.get(_lease_key(uid)) is None:
                return
        except Exception:
            return
        time.sleep(WAIT_STEP)


def _record_pending(uid, record: dict) -> None:
    try:
        cache.set(_pending_key(uid), record, PENDING_SECONDS)
    except Exception:
        log.warning("refresh of connection %s not recorded ahead (cache down)", uid)


def _apply_pending(pk: int, used: str, fields: dict, *, now: datetime) -> Connection:
    """Store a refresh's result over the refresh token it was obtained with (compare and
    set), with its audit event, in one transaction; then forget the record."""
    with transaction.atomic():
        row = _lock(pk)
        if row.refresh_token_encrypted == used and row.status == Connection.Status.ACTIVE:
            for name, value in fields.items():
                setattr(row, name, value)
            row.save()
            audit.record(
                "connection.refreshed",
                user_id=row.user_id,
                scope=row.scopes,
                detail={"provider": row.provider.slug, "connection": str(row.uid)},
                at=now,
            )
    # Only once committed: a failed commit leaves the record for recover_pending.
    _forget_pending(row.uid)
    return row


def _forget_pending(uid) -> None:
    try:
        cache.delete(_pending_key(uid))
    except Exception:
        log.warning("refresh record of connection %s not removed (cache down)", uid)


def recover_pending(pk: int) -> Connection:
    """The connection, with a recorded refresh whose local write did not commit applied
    first (idempotent: it applies only over the refresh token it was obtained with)."""
    conn = Connection.objects.select_related("provider").get(pk=pk)
    try:
        record = cache.get(_pending_key(conn.uid))
    except Exception:
        record = None
    if record:
        fields = record["fields"]
        return _apply_pending(pk, record["used"], fields, now=fields["last_refreshed_at"])
    return conn


def record_failure(conn: Connection, exc: upstream.UpstreamError, *, now: datetime) -> None:
    """Back off; after MAX_FAILURES in a row, or a grant the provider says is gone
    (RFC 6749 §5.2 invalid_grant), the connection is broken and its tokens wiped."""
    conn.failures += 1
    conn.last_error = exc.code
    broken = exc.permanent or conn.failures >= MAX_FAILURES
    if broken:
        conn.status = Connection.Status.BROKEN
        conn.refresh_at = None
        conn.access_token_encrypted = ""
        conn.refresh_token_encrypted = ""
        conn.access_expires_at = None
    else:
        conn.refresh_at = now + backoff(conn.failures)
    conn.save()
    log.warning(
        "upstream refresh failed: connection %s, provider %s, error %s, failures %d",
        conn.uid,
        conn.provider.slug,
        exc.code,
        conn.failures,
    )
    audit.record(
        "connection.broken" if broken else "connection.refresh_failed",
        user_id=conn.user_id,
        detail={
            "provider": conn.provider.slug,
            "connection": str(conn.uid),
            "error": exc.code,
            "failures": conn.failures,
        },
        at=now,
    )


def disconnect(conn: Connection, *, now: datetime, actor: str) -> None:
    """Stop every future vend at once; the upstream revocation runs after commit."""
    with transaction.atomic():
        conn = _lock(conn.pk)
        had_tokens = bool(conn.access_token_encrypted or conn.refresh_token_encrypted)
        conn.status = Connection.Status.DISCONNECTED
        conn.refresh_at = None
        conn.upstream_revoke_pending = had_tokens
        conn.save()
        audit.record(
            "connection.disconnected",
            actor=actor,
            user_id=conn.user_id,
            detail={"provider": conn.provider.slug, "connection": str(conn.uid)},
            at=now,
        )
        if had_tokens:
            transaction.on_commit(lambda: _queue_revocation(conn.pk))


def disconnect_all(queryset, *, now: datetime, actor: str) -> int:
    done = 0
    for conn in queryset.exclude(status=Connection.Status.DISCONNECTED):
        disconnect(conn, now=now, actor=actor)
        done += 1
    return done


def disconnect_user(user, *, now: datetime, actor: str) -> int:
    """Every connection of ``user`` ends (authserver.revocation.cutoffs, registered by
    connections.apps)."""
    return disconnect_all(Connection.objects.filter(user_id=user.pk), now=now, actor=actor)


def _queue_revocation(pk: int) -> None:
    try:
        revoke_upstream_tokens.delay(pk)
    except Exception:
        log.warning("job queue unavailable; revoking upstream tokens inline")
        revoke_upstream(pk)


def revoke_upstream(pk: int) -> bool:
    """RFC 7009 at the provider for a disconnected connection's tokens, then wipe them.
    Idempotent: a connection reconnected meanwhile keeps its new tokens."""
    with transaction.atomic():
        conn = _lock(pk)
        if conn.status == Connection.Status.ACTIVE or not conn.upstream_revoke_pending:
            return False
        refresh = vault.open_(conn, "refresh_token_encrypted")
        access = vault.open_(conn, "access_token_encrypted")
        provider = conn.provider
    # RFC 7009 §2.1: revoking the refresh token also invalidates its access tokens where
    # the provider supports it; the access token is revoked too for providers that don't.
    revoked = upstream.revoke(provider, token=refresh, hint="refresh_token") if refresh else False
    if access:
        revoked = upstream.revoke(provider, token=access, hint="access_token") or revoked
    Connection.objects.filter(pk=pk, upstream_revoke_pending=True).exclude(
        status=Connection.Status.ACTIVE
    ).update(access_token_encrypted="", refresh_token_encrypted="", upstream_revoke_pending=False)
    return revoked


def due_connections(*, now: datetime, limit: int = 500) -> list[int]:
    """What the job refreshes: ``needs_refresh(vend=False)`` as one query, soonest first."""
    expiring = Q(
        refresh_at__isnull=False,
        failures=0,
        access_expires_at__lte=now + REFRESH_LOOKAHEAD,
    )
    return list(
        Connection.objects.filter(status=Connection.Status.ACTIVE, provider__enabled=True)
        .filter(Q(refresh_at__lte=now) | expiring)
        .order_by("refresh_at")
        .values_list("pk", flat=True)[:limit]
    )


# Named as when it lived in connections.tasks, so queued jobs still match.
@shared_task(
    name="connections.tasks.revoke_upstream_tokens",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
)
def revoke_upstream_tokens(pk: int) -> bool:
    """RFC 7009 revocation at the provider after a disconnect; then the tokens are wiped."""
    return revoke_upstream(pk)
