"""RFC 7662 token introspection, for resource servers about their own tokens only."""

from __future__ import annotations

import hashlib

from django.utils import timezone

from authserver import metrics
from authserver.models import AccessToken

INACTIVE = {"active": False}


def introspect(token: str, *, audiences: set[str], issuer: str) -> dict:
    """What a resource server whose resource identifiers are ``audiences`` may learn.

    RFC 7662 §2.2: anything not active, not ours, or not for this caller is simply
    ``{"active": false}``; the response never says which.
    """
    if not token or len(token) > 8192 or not audiences:
        return dict(INACTIVE)
    checksum = hashlib.sha256(token.encode()).hexdigest()
    row = (
        AccessToken.objects.select_related("application", "user")
        .filter(token_checksum=checksum)
        .first()
    )
    if (
        row is None
        or row.revoked_at is not None
        or row.expires <= timezone.now()
        or row.application is None
        or not row.application.is_active
        or len(row.resource) != 1
    ):
        return dict(INACTIVE)
    if row.resource[0] not in audiences:
        # A live token shown to a resource server it was not minted for: token passthrough or
        # a misconfigured MCP server (RFC 8707 §2). Same answer, but operators are alerted.
        metrics.security_event("introspection_audience_mismatch")
        return dict(INACTIVE)
    claims = {
        "active": True,
        "scope": row.scope,
        "client_id": row.application.client_id,
        "token_type": "Bearer",
        "exp": int(row.expires.timestamp()),
        "iat": int(row.created.timestamp()),
        "sub": str(row.user.pk) if row.user else row.application.client_id,
        "aud": row.resource[0],
        "iss": issuer,
        "jti": row.jti,
    }
    if row.user is not None:
        claims["username"] = row.user.get_username()
    return claims
