"""RFC 9068 JWT access tokens: claims, lifetime and signing, from a validated binding.

The token endpoint (authserver.token_endpoint) builds a
:class:`~authserver.token_endpoint.binding.Binding` and calls :func:`sign_access_token`
inside its issuing transaction. The JWT is signed with the active key (authserver.keys.keyring);
what is stored is its SHA-256 checksum plus the jti, kid and expiry.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from authserver.keys import keyring as keys

JWT_TYPE = "at+jwt"  # RFC 9068 §2.1


@dataclass(frozen=True)
class IssuedToken:
    value: str
    jti: str
    kid: str
    iat: int
    exp: int


def lifetime(resource, *, iat: int, not_after: int | None = None) -> int:
    """Seconds: the resource's own lifetime, capped by ACCESS_TOKEN_MAX_LIFETIME and, for an
    exchanged token, by the end of its subject token (RFC 8693 §2.2.1)."""
    seconds = min(resource.access_token_lifetime, settings.CONFIG.access_token_max_lifetime)
    if not_after is not None:
        seconds = min(seconds, not_after - iat)
    return max(1, seconds)


def access_token_claims(binding, *, iat: int, exp: int, jti: str) -> dict:
    """The RFC 9068 §2.2 claim set for a validated binding."""
    claims = {
        "iss": settings.ISSUER,
        "sub": binding.sub,
        "aud": binding.resource.identifier,  # exactly one resource (RFC 8707 §2)
        "client_id": binding.client.client_id,
        "scope": " ".join(binding.scopes),
        "iat": iat,
        "exp": exp,
        "jti": jti,
    }
    if binding.auth_time is not None:
        claims["auth_time"] = int(binding.auth_time.timestamp())
    if binding.act_json:
        claims["act"] = json.loads(binding.act_json)  # RFC 8693 §4.1, nested per hop
    if binding.jkt:
        claims["cnf"] = {"jkt": binding.jkt}  # RFC 9449 §6.1
    if binding.authorization_details:
        claims["authorization_details"] = json.loads(binding.authorization_details)  # RFC 9396 §9
    return claims


def sign_access_token(binding, *, now: datetime, key=None) -> IssuedToken:
    """One clock reading for iat, exp and expires_in, so expires_in is exactly exp - iat."""
    iat = int(now.timestamp())
    exp = iat + lifetime(binding.resource, iat=iat, not_after=binding.not_after)
    jti = secrets.token_urlsafe(16)
    claims = access_token_claims(binding, iat=iat, exp=exp, jti=jti)
    value, kid = keys.sign(claims, typ=JWT_TYPE, key=key)
    return IssuedToken(value=value, jti=jti, kid=kid, iat=iat, exp=exp)


def new_refresh_token() -> str:
    """256 random bits, opaque (never a JWT)."""
    return secrets.token_urlsafe(32)
