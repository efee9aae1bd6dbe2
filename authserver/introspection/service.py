"""RFC 7662 token introspection, for resource servers about their own tokens only.

One raw SELECT per request finds the token row (by its SHA-256) with its client joined,
and reads the cache generation alongside, so the caller's cached client and resources
(authserver.token_endpoint.hotcache) are confirmed current in the same round trip.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from authserver.ops import metrics
from authserver.token_endpoint import access_token
from authserver.token_endpoint import sql as statements
from authserver.token_hash import token_hash

INACTIVE = {"active": False}

LOOKUP = (
    "SELECT (SELECT value FROM authserver_cachegeneration WHERE id = 1), t.* FROM (SELECT 1) "
    "one LEFT JOIN (SELECT t.scope, t.expires, t.created, t.revoked_at, t.resource, t.jti, "
    "t.jkt, t.auth_time, t.user_id, a.client_id, a.is_active, t.authorization_details "
    "FROM authserver_accesstoken t "
    "JOIN clients_client a ON a.id = t.application_id WHERE t.token_checksum = %s) t ON true"
)


def lookup(token: str) -> tuple[int | None, tuple | None]:
    """The committed cache generation, and the token's row (or None)."""
    generation, *row = statements.fetchone(LOOKUP, [token_hash(token)])
    return generation, (tuple(row) if row[0] is not None else None)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands a raw SELECT's datetimes back naive; Django stored them in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def introspect_row(row: tuple | None, *, audiences: frozenset[str], issuer: str, now: datetime):
    """What a resource server whose resource identifiers are ``audiences`` may learn.

    RFC 7662 §2.2: anything not active, not ours, or not for this caller is simply
    ``{"active": false}``; the response never says which.
    """
    if row is None or not audiences:
        return dict(INACTIVE)
    scope, expires, created, revoked_at, resource, jti, jkt, auth_time, user_id = row[:9]
    client_id, client_active, details = row[9:12]
    expires, created, auth_time = _aware(expires), _aware(created), _aware(auth_time)
    if isinstance(resource, str):
        resource = json.loads(resource)
    if isinstance(details, str):
        details = json.loads(details)
    if revoked_at is not None or expires <= now or not client_active or len(resource) != 1:
        return dict(INACTIVE)
    if resource[0] not in audiences:
        # A live token shown to a resource server it was not minted for: token passthrough or
        # a misconfigured MCP server (RFC 8707 §2). Same answer, but operators are alerted.
        metrics.security_event("introspection_audience_mismatch")
        return dict(INACTIVE)
    # RFC 7662 §2.2: what the token says, no more (no username: the JWT carries none).
    claims = {
        "active": True,
        "scope": scope,
        "client_id": client_id,
        # RFC 9449 §6.2: a DPoP-bound token is reported as such, with its key's thumbprint.
        "token_type": "DPoP" if jkt else "Bearer",
        "exp": int(expires.timestamp()),
        "iat": int(created.timestamp()),
        "sub": str(user_id) if user_id is not None else client_id,
        "aud": resource[0],
        "iss": issuer,
        "jti": jti,
    }
    if auth_time is not None:
        claims["auth_time"] = int(auth_time.timestamp())
    if jkt:
        claims["cnf"] = {"jkt": jkt}
    # What features add (registered claims contributors), as the JWT carries it.
    return access_token.with_contributions(claims, authorization_details=details)
