"""Issuing what a validated binding describes, all or nothing, in one transaction.

In order: claim the code or refresh token (a conditional UPDATE that locks its row and
re-checks it is unused), sign the JWT, insert the access token row, the rotated refresh
token row and the audit event (and, every few minutes, the client's last-use stamp),
commit. Any failure rolls every write back: the code or refresh token stays usable and no
family is touched. Metrics are counted only after commit.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from oauth2_provider.models import set_token_value

from authserver import audit, keys, metrics, tokens
from authserver.models import AccessToken, RefreshToken, SigningKey
from authserver.token_endpoint.binding import Binding
from authserver.token_endpoint.hotcache import Snapshot

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


def issue(binding: Binding, snap: Snapshot, *, now: datetime) -> Issued:
    key = signing_key(snap)
    with transaction.atomic():
        if binding.claim is not None:
            binding.claim.apply(now=now)
        token = tokens.sign_access_token(binding, now=now, key=key)
        access = insert_access_token(binding, token)
        refresh = insert_refresh_token(binding, access, now=now)
        record_issued(binding, token)
        touch_client(binding.client, now=now)
        transaction.on_commit(lambda: after_commit(binding))
    return Issued(
        access_token=token.value,
        token_type=binding.token_type,
        expires_in=token.exp - token.iat,
        scope=" ".join(binding.scopes),
        refresh_token=refresh,
        extras=binding.response_extras,
        authorization_details=binding.authorization_details,
    )


def insert_access_token(binding: Binding, token: tokens.IssuedToken) -> AccessToken:
    row = AccessToken(
        user=binding.user,
        scope=" ".join(binding.scopes),
        expires=datetime.fromtimestamp(token.exp, tz=UTC),
        application=binding.client,
        source_refresh_token=binding.previous_refresh,
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
    return row


def insert_refresh_token(binding: Binding, access: AccessToken, *, now: datetime) -> str | None:
    if not binding.issue_refresh_token:
        return None
    value = tokens.new_refresh_token()
    absolute = binding.refresh_absolute_expires or now + timedelta(
        seconds=settings.CONFIG.refresh_token_lifetime
    )
    row = RefreshToken(
        user=binding.user,
        application=binding.client,
        access_token=access,
        token_family=binding.family or uuid.uuid4(),
        resource=[binding.resource.identifier],
        absolute_expires=absolute,
        # RFC 9449 §5: refresh tokens stay bound to the key they were issued with.
        jkt=binding.jkt,
    )
    set_token_value(row, value)
    row.save(force_insert=True)
    return value


def record_issued(binding: Binding, token: tokens.IssuedToken) -> None:
    detail = {"grant_type": binding.grant_type, "kid": token.kid, **dict(binding.audit_detail)}
    audit.record(
        binding.audit_kind,
        actor=f"client:{binding.client.client_id}" if binding.act_json else "",
        client_id=binding.client.client_id,
        user_id=binding.user.pk if binding.user is not None else "",
        resource=binding.resource.identifier,
        jti=token.jti,
        family=binding.family or "",
        scope=" ".join(binding.scopes),
        detail=detail,
    )


def after_commit(binding: Binding) -> None:
    metrics.token_issued(binding.grant_type, binding.resource.identifier)


def touch_client(client, *, now: datetime) -> None:
    """Record last use, at most every few minutes (no write per token on the hot path)."""
    if client.last_used_at is None or now - client.last_used_at > LAST_USED_RESOLUTION:
        type(client).objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
