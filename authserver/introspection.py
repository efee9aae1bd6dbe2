"""RFC 7662 token introspection, for resource servers about their own tokens only."""

from __future__ import annotations

import hashlib

from django.utils import timezone

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
        or row.resource[0] not in audiences
    ):
        return dict(INACTIVE)
    # RFC 7662 §2.2: what the token says, no more (no username: the JWT carries none).
    claims = {
        "active": True,
        "scope": row.scope,
        "client_id": row.application.client_id,
        # RFC 9449 §6.2: a DPoP-bound token is reported as such, with its key's thumbprint.
        "token_type": "DPoP" if row.jkt else "Bearer",
        "exp": int(row.expires.timestamp()),
        "iat": int(row.created.timestamp()),
        "sub": str(row.user.pk) if row.user else row.application.client_id,
        "aud": row.resource[0],
        "iss": issuer,
        "jti": row.jti,
    }
    if row.auth_time is not None:
        claims["auth_time"] = int(row.auth_time.timestamp())
    if row.jkt:
        claims["cnf"] = {"jkt": row.jkt}
    if row.authorization_details is not None:
        claims["authorization_details"] = row.authorization_details  # RFC 9396 §9.2
    return claims
