"""Issuing what a validated binding describes, all or nothing.

Sign the JWT, then in one atomic write: claim the code or refresh token (a conditional
UPDATE that locks its row and re-checks it is unused), insert the access token row, the
rotated refresh token row and the audit event (and, every few minutes, the client's
last-use stamp). On PostgreSQL that write is one statement (authserver.token_endpoint.
writer); elsewhere the same rows through the ORM in one ``transaction.atomic()``. Any
failure writes nothing: the code or refresh token stays usable and no family is touched.
Metrics are counted only once the write is committed.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from oauth2_provider.models import set_token_value

from authserver import audit
from authserver.errors import InvalidGrant
from authserver.keys import keyring as keys
from authserver.models import AccessToken, RefreshToken, SigningKey
from authserver.ops import metrics
from authserver.token_endpoint import access_token as tokens
from authserver.token_endpoint import families, hotcache, writer
from authserver.token_endpoint.binding import Binding
from authserver.token_endpoint.hotcache import Snapshot
from authserver.token_hash import token_hash

LAST_USED_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class Issued:
    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    extras: tuple[tuple[str, str], ...] = ()
    authorization_details: str = ""

    def as_json(self) -> dict:
        """RFC 6749 §5.1 (and RFC 8693 §2.2.1 extras)."""
        body = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        body.update(self.extras)
        if self.authorization_details:  # RFC 9396 §7: what was granted
            body["authorization_details"] = json.loads(self.authorization_details)
        return body


def signing_key(snap: Snapshot) -> SigningKey:
    alg = keys.default_algorithm()
    key = snap.get(
        ("signing-key", alg),
        lambda: SigningKey.objects.filter(alg=alg, state=SigningKey.State.ACTIVE).first(),
    )
    return key or keys.active_key(alg)  # none yet: created on first use


class StaleCache(Exception):
    """The cache generation moved since this request's snapshot: nothing was written."""


def issue(binding: Binding, snap: Snapshot, *, now: datetime) -> Issued:
    """Sign, then write everything at once; raises StaleCache, or the claim's refusal."""
    key = signing_key(snap)
    if binding.claim is not None and not hasattr(binding.claim, "sql"):
        # A claim with no single-statement form (an ID-JAG that provisions its user): claim
        # first, then sign what it settled (the new user's id is the token's sub), all in one
        # transaction.
        with transaction.atomic():
            binding.claim.apply(now=now)
            binding = binding.claim.settle(binding)
            token = tokens.sign_access_token(binding, now=now, key=key)
            refresh = tokens.new_refresh_token() if binding.issue_refresh_token else None
            write_in_transaction(
                dataclasses.replace(binding, claim=None), token, refresh, snap, now=now
            )
    else:
        token = tokens.sign_access_token(binding, now=now, key=key)
        refresh = tokens.new_refresh_token() if binding.issue_refresh_token else None
        if single_statement():
            write_one_statement(binding, token, refresh, snap, now=now)
        else:
            write_in_transaction(binding, token, refresh, snap, now=now)
    metrics.token_issued(binding.grant_type, binding.resource.identifier)  # after commit
    return Issued(
        access_token=token.value,
        token_type=binding.token_type,
        expires_in=token.exp - token.iat,
        scope=" ".join(binding.scopes),
        refresh_token=refresh,
        extras=binding.response_extras,
        authorization_details=binding.authorization_details,
    )


def single_statement() -> bool:
    """Writable CTEs (PostgreSQL) let the whole write be one statement."""
    return connection.vendor == "postgresql"


def write_one_statement(
    binding: Binding, token, refresh: str | None, snap: Snapshot, *, now: datetime
) -> None:
    claim = binding.claim
    gate = claim if claim is not None and claim.gate else None
    touch = touch_due(binding.client, now=now)
    outcome = writer.write(
        write_params(binding, token, refresh, now=now),
        generation=snap.generation,
        claim=gate.sql(now=now) if gate is not None else None,
        replay=gate.replay if gate is not None else "",
        side=claim.sql(now=now) if claim is not None and not claim.gate else None,
        with_refresh=refresh is not None,
        touch_client=touch,
    )
    if not outcome.generation_matched:
        hotcache.observe(outcome.generation)
        raise StaleCache
    if not outcome.written:
        raise InvalidGrant(claim.refused if claim is not None else "nothing was issued")
    if touch:
        binding.client.last_used_at = now


def write_params(binding: Binding, token, refresh: str | None, *, now: datetime) -> dict:
    scope = " ".join(binding.scopes)
    family = binding.family
    refresh_family = family or (uuid.uuid4() if refresh is not None else None)
    user_pk = binding.user_pk
    return {
        "now": now,
        "user_id": user_pk,
        "previous_refresh_id": binding.previous_refresh_pk,
        "access_checksum": token_hash(token.value),
        "client_pk": binding.client.pk,
        "client_id": binding.client.client_id,
        "expires": datetime.fromtimestamp(token.exp, tz=UTC),
        "scope": scope,
        "resource": json.dumps([binding.resource.identifier]),
        "resource_id": binding.resource.identifier,
        "jti": token.jti,
        "kid": token.kid,
        "family": family,
        "auth_time": binding.auth_time,
        "jkt": binding.jkt,
        # RFC 9396: the details as signed (JSON text, or NULL for none).
        "authorization_details": binding.authorization_details or None,
        "refresh_checksum": token_hash(refresh) if refresh is not None else None,
        "refresh_family": refresh_family,
        "absolute_expires": refresh_expires(binding, now=now),
        "audit_kind": binding.audit_kind,
        "audit_actor": audit_actor(binding),
        "audit_user": str(user_pk or ""),
        "audit_family": str(family or ""),
        "audit_detail": writer.audit_detail(audit_detail(binding, token)),
    }


def refresh_expires(binding: Binding, *, now: datetime) -> datetime:
    # A rotated token keeps its family's absolute end (OAuth 2.1 §4.3.1).
    return binding.refresh_absolute_expires or now + timedelta(
        seconds=settings.CONFIG.refresh_token_lifetime
    )


def write_in_transaction(
    binding: Binding, token, refresh: str | None, snap: Snapshot, *, now: datetime
) -> None:
    """The same writes through the ORM, for databases without writable CTEs (SQLite)."""
    try:
        _write_in_transaction(binding, token, refresh, snap, now=now)
    except InvalidGrant:
        # A gating claim refused inside the transaction rolled back with it: as on
        # PostgreSQL (writer.write), what was issued from the code or refresh token is revoked
        # after the rollback (RFC 6749 §4.1.2; OAuth 2.1 §4.3.1), then the refusal stands.
        claim = binding.claim
        if claim is not None and claim.gate:
            families.refused(binding.family, now=now, reason=claim.replay or "replay")
        raise


def _write_in_transaction(
    binding: Binding, token, refresh: str | None, snap: Snapshot, *, now: datetime
) -> None:
    with transaction.atomic():
        if snap.generation is not None and hotcache.current_generation() != snap.generation:
            hotcache.observe(hotcache.current_generation())
            raise StaleCache
        if binding.claim is not None:
            binding.claim.apply(now=now)
        access = insert_access_token(binding, token)
        insert_refresh_token(binding, access, refresh, now=now)
        record_issued(binding, token)
        if touch_due(binding.client, now=now):
            type(binding.client).objects.filter(pk=binding.client.pk).update(last_used_at=now)
            binding.client.last_used_at = now


def insert_access_token(binding: Binding, token: tokens.IssuedToken) -> AccessToken:
    row = AccessToken(
        user_id=binding.user_pk,
        scope=" ".join(binding.scopes),
        expires=datetime.fromtimestamp(token.exp, tz=UTC),
        application=binding.client,
        source_refresh_token_id=binding.previous_refresh_pk,
        resource=[binding.resource.identifier],  # RFC 8707; DOT's column
        jti=token.jti,
        kid=token.kid,
        token_family=binding.family,
        auth_time=binding.auth_time,
        jkt=binding.jkt,
        authorization_details=(
            json.loads(binding.authorization_details) if binding.authorization_details else None
        ),
    )
    set_token_value(row, token.value)  # DOT: only the checksum is stored (RFC 9700)
    row.save(force_insert=True)
    # ``created`` is DOT's auto_now_add, the moment of the insert; introspection answers
    # ``iat`` from it (RFC 7662 §2.2), so it must be the JWT's own ``iat``, as the PostgreSQL
    # writer's single statement stores it.
    issued_at = datetime.fromtimestamp(token.iat, tz=UTC)
    if row.created != issued_at:
        AccessToken.objects.filter(pk=row.pk).update(created=issued_at)
        row.created = issued_at
    return row


def insert_refresh_token(
    binding: Binding, access: AccessToken, value: str | None, *, now: datetime
) -> None:
    if value is None:
        return
    row = RefreshToken(
        user_id=binding.user_pk,
        application=binding.client,
        access_token=access,
        token_family=binding.family or uuid.uuid4(),
        resource=[binding.resource.identifier],
        absolute_expires=refresh_expires(binding, now=now),
        # RFC 9449 §5: refresh tokens stay bound to the key they were issued with.
        jkt=binding.jkt,
    )
    set_token_value(row, value)
    row.save(force_insert=True)


def audit_actor(binding: Binding) -> str:
    return f"client:{binding.client.client_id}" if binding.act_json else ""


def audit_detail(binding: Binding, token) -> dict:
    return {"grant_type": binding.grant_type, "kid": token.kid, **dict(binding.audit_detail)}


def record_issued(binding: Binding, token: tokens.IssuedToken) -> None:
    audit.record(
        binding.audit_kind,
        actor=audit_actor(binding),
        client_id=binding.client.client_id,
        user_id=binding.user_pk or "",
        resource=binding.resource.identifier,
        jti=token.jti,
        family=binding.family or "",
        scope=" ".join(binding.scopes),
        detail=audit_detail(binding, token),
    )


def touch_due(client, *, now: datetime) -> bool:
    """Record last use at most every few minutes (no write per token on the hot path)."""
    return client.last_used_at is None or now - client.last_used_at > LAST_USED_RESOLUTION
