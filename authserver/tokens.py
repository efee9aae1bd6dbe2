"""RFC 9068 JWT access tokens: claims, lifetime, and the generators DOT calls.

DOT's ``ACCESS_TOKEN_GENERATOR`` hook calls :func:`generate_access_token` with the oauthlib
request after :mod:`authserver.grants` has bound it to one resource (``request.audience``)
and its scopes. The JWT is signed with the active key (authserver.keys); what DOT stores is
its SHA-256 checksum plus the jti, kid and expiry we attach here.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors

from authserver import keys

JWT_TYPE = "at+jwt"  # RFC 9068 §2.1


@dataclass(frozen=True)
class IssuedToken:
    jti: str
    kid: str
    iat: int
    exp: int


def access_token_lifetime(request) -> int:
    """Seconds; the resource's own lifetime, capped by ACCESS_TOKEN_MAX_LIFETIME."""
    resource = getattr(request, "audience", None)
    lifetime = resource.access_token_lifetime if resource else settings.CONFIG.access_token_lifetime
    lifetime = min(lifetime, settings.CONFIG.access_token_max_lifetime)
    # One clock reading for expires_in and the JWT's iat/exp (generate_access_token), so
    # expires_in is exactly exp - iat even when a second boundary falls in between.
    request.token_iat = int(time.time())
    not_after = getattr(request, "not_after", None)  # an exchanged token ends with its subject
    if not_after is not None:
        lifetime = min(lifetime, not_after - request.token_iat)
    return max(1, lifetime)


def subject(request) -> str:
    """RFC 9068 §2.2: the user; for client credentials, the client itself; for an exchange,
    the original subject (RFC 8693 §4.1)."""
    if getattr(request, "subject", None):
        return request.subject
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "pk", None) is not None:
        return str(user.pk)
    return request.client.client_id


def access_token_claims(request, *, iat: int, exp: int, jti: str) -> dict:
    """The RFC 9068 §2.2 claim set for the bound request."""
    claims = {
        "iss": settings.ISSUER,
        "sub": subject(request),
        "aud": request.audience.identifier,  # exactly one resource (RFC 8707 §2)
        "client_id": request.client.client_id,
        "scope": " ".join(request.scopes or []),
        "iat": iat,
        "exp": exp,
        "jti": jti,
    }
    auth_time = getattr(request, "auth_time", None)
    if auth_time is not None:
        claims["auth_time"] = int(auth_time.timestamp())
    act = getattr(request, "act", None)
    if act:
        claims["act"] = act  # RFC 8693 §4.1: who acts, nested for each earlier hop
    jkt = getattr(request, "dpop_jkt", None)
    if jkt:
        claims["cnf"] = {"jkt": jkt}  # RFC 9449 §6.1
    return claims


def generate_access_token(request) -> str:
    """DOT's ACCESS_TOKEN_GENERATOR. Fails closed when no resource was bound."""
    if getattr(request, "audience", None) is None:
        raise oauthlib_errors.ServerError("token request was not bound to a resource")
    iat = getattr(request, "token_iat", None) or int(time.time())
    exp = iat + int(request.expires_in)
    not_after = getattr(request, "not_after", None)
    if not_after is not None:  # also when the subject expired during this very request
        exp = min(exp, not_after)
    jti = secrets.token_urlsafe(16)
    token, kid = keys.sign(access_token_claims(request, iat=iat, exp=exp, jti=jti), typ=JWT_TYPE)
    request.issued_token = IssuedToken(jti=jti, kid=kid, iat=iat, exp=exp)
    return token


def generate_refresh_token(request) -> str:
    """DOT's REFRESH_TOKEN_GENERATOR: 256 random bits, opaque (never a JWT)."""
    return secrets.token_urlsafe(32)
