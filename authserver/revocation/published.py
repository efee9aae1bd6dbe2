"""The signed revocation list MCP servers poll instead of calling us per request.

Format (README, "Revocation list"): a compact JWS, header ``typ: revocation-list+jwt`` with
our signing key's ``kid``; claims ``iss``, ``iat``, ``exp`` (a short validity, after which a
verifier must treat the list as unavailable), and

- ``jti``: the ids of revoked access tokens that have not expired yet, sorted;
- ``sub_before`` / ``client_before``: ``{value: t}``, every token of that user / client
  issued before ``t`` (Unix seconds) is revoked (deactivated users, disabled clients);
- ``kid``: compromised signing keys; every token they signed is revoked.

Entries leave the list once every token they could match has expired, so with 5-minute
tokens it stays small. Why not the IETF Token Status List (draft-ietf-oauth-status-list):
it needs every token to carry a ``status`` claim with an index allocated at issuance, and the
list covers every token issued in the window, revoked or not; for tokens living minutes, a
deny-list of the few revoked ones is smaller, needs no per-token allocation on the hot path,
and is O(1) to check (a set lookup).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, transaction
from django.utils import timezone

from authserver.keys import keyring as keys
from authserver.models import (
    AccessToken,
    RevocationCutoff,
    RevocationListSnapshot,
    SigningKey,
)
from authserver.ops import localcache

log = logging.getLogger("authserver.revocation.published")
LIST_TYPE = "revocation-list+jwt"
CACHE_KEY = "revocation-list:v1"
CHANNEL = "authserver:revocations"


def cache_key() -> str:
    return f"{CACHE_KEY}:{hashlib.sha256(settings.ISSUER.encode()).hexdigest()[:12]}"


def lifetime() -> timedelta:
    return timedelta(seconds=settings.CONFIG.revocation_list_lifetime)


def build_claims(now: datetime) -> dict:
    max_lifetime = timedelta(seconds=settings.CONFIG.access_token_max_lifetime)
    jtis = sorted(
        AccessToken.objects.filter(revoked_at__isnull=False, expires__gt=now)
        .exclude(jti=None)
        .values_list("jti", flat=True)
    )
    cutoffs = {"sub": {}, "client_id": {}}
    for cutoff in RevocationCutoff.objects.filter(expires_at__gt=now):
        cutoffs[cutoff.kind][cutoff.value] = int(cutoff.before.timestamp())
    kids = sorted(
        SigningKey.objects.filter(
            state=SigningKey.State.COMPROMISED, retired_at__gt=now - max_lifetime
        ).values_list("kid", flat=True)
    )
    issued = int(now.timestamp())
    return {
        "iss": settings.ISSUER,
        "iat": issued,
        "exp": issued + int(lifetime().total_seconds()),
        "jti": jtis,
        "sub_before": cutoffs["sub"],
        "client_before": cutoffs["client_id"],
        "kid": kids,
    }


def publish(*, now: datetime | None = None) -> RevocationListSnapshot:
    """Build, sign and store the list; idempotent (a rerun republishes the same entries)."""
    now = now or timezone.now()
    claims = build_claims(now)
    token, _kid = keys.sign(claims, typ=LIST_TYPE)
    etag = hashlib.sha256(token.encode()).hexdigest()[:32]
    entries = len(claims["jti"]) + len(claims["sub_before"]) + len(claims["client_before"])
    snapshot, _ = RevocationListSnapshot.objects.update_or_create(
        id=1,
        defaults={
            "token": token,
            "etag": etag,
            "issued_at": now,
            "entries": entries,
            "issuer": settings.ISSUER,
        },
    )
    _cache_and_announce(snapshot)
    # This process serves the new list at once; others within authserver.ops.fastpath's second.
    localcache.clear("fastpath")
    return snapshot


def _cache_and_announce(snapshot: RevocationListSnapshot) -> None:
    try:
        cache.set(cache_key(), (snapshot.token, snapshot.etag, snapshot.issued_at), None)
        if settings.CONFIG.redis_url:
            import redis

            redis.Redis.from_url(settings.CONFIG.redis_url, socket_timeout=1).publish(
                CHANNEL, snapshot.etag
            )
    except Exception:  # the database copy is the source of truth; Redis is a shortcut
        log.warning("revocation list published to the database only (cache unavailable)")


def current(*, now: datetime | None = None) -> tuple[str, str, datetime]:
    """``(token, etag, issued_at)`` of a list still within half its lifetime; else republish."""
    now = now or timezone.now()
    fresh_after = now - lifetime() / 2
    try:
        cached = cache.get(cache_key())
    except Exception:
        cached = None
    if cached and cached[2] > fresh_after:
        return cached
    # A list signed for another issuer (ISSUER changed) is never served: verifiers would
    # refuse every token.
    snapshot = RevocationListSnapshot.objects.filter(
        id=1, issued_at__gt=fresh_after, issuer=settings.ISSUER
    ).first()
    if snapshot is None:
        snapshot = publish(now=now)
    else:
        _cache_and_announce(snapshot)
    return snapshot.token, snapshot.etag, snapshot.issued_at


def schedule_publication() -> None:
    """After the current transaction commits, publish via Celery (or inline if it is down)."""
    transaction.on_commit(_enqueue)


def _enqueue() -> None:
    try:
        publish_revocation_list.delay()
    except Exception:
        log.warning("job queue unavailable; publishing the revocation list inline")
        publish()


# Named as before the move (authserver.tasks), so queued jobs and the beat schedule still match.
@shared_task(
    name="authserver.tasks.publish_revocation_list",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
)
def publish_revocation_list() -> int:
    """Sign and publish the revocation list (beat, and at once after each revocation)."""
    return publish(now=timezone.now()).entries
