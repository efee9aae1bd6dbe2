"""RFC 9068 JWT access tokens: claims, lifetime and signing, from a validated binding.

The token endpoint (authserver.token_endpoint) builds a
:class:`~authserver.token_endpoint.binding.Binding` and calls :func:`sign_access_token`
inside its issuing transaction. The JWT is signed with the active key (authserver.keys.keyring);
what is stored is its SHA-256 checksum plus the jti, kid and expiry.

The core sets the claims of ``CORE_CLAIMS``; features add theirs through the claims
contributors they register (token_endpoint.registry, ``ClaimsContributor``), here and in
introspection's answer alike (:func:`with_contributions`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from authserver.keys import keyring as keys
from authserver.token_endpoint import registry

JWT_TYPE = "at+jwt"  # RFC 9068 §2.1

# Claims only the core sets, in the JWT (RFC 9068 §2.2, RFC 8693 §4.1 act, RFC 9449 §6.1
# cnf) or in introspection's answer (RFC 7662 §2.2): no contributor may set one, even one
# a given token lacks (a cnf on a bearer token would bind it to a key nobody checked).
CORE_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "client_id",
        "scope",
        "auth_time",
        "act",
        "may_act",
        "cnf",
        "active",
        "token_type",
        "username",
    }
)


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """What a claims contributor is told about one token (immutable values only)."""

    sub: str
    aud: str
    client_id: str
    scope: str
    # RFC 9396: the authorization_details stored with the token (a fresh copy), or None.
    authorization_details: list | None


def with_contributions(claims: dict, *, authorization_details: list | None) -> dict:
    """``claims`` (the core's) plus every registered contributor's, in registration order.
    Fail closed: a contributor naming a core claim, or one already added, raises
    ImproperlyConfigured and nothing is answered."""
    if not registry.CLAIMS_CONTRIBUTORS:
        return claims
    facts = TokenFacts(
        sub=claims["sub"],
        aud=claims["aud"],
        client_id=claims["client_id"],
        scope=claims["scope"],
        authorization_details=authorization_details,
    )
    added: dict = {}
    for name, contributor in registry.CLAIMS_CONTRIBUTORS.items():
        for claim, value in contributor(facts).items():
            if claim in CORE_CLAIMS or claim in claims or claim in added:
                raise ImproperlyConfigured(f"claims contributor {name!r} may not set {claim!r}")
            added[claim] = value
    return {**claims, **added}


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
    details = json.loads(binding.authorization_details) if binding.authorization_details else None
    return with_contributions(claims, authorization_details=details)


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
