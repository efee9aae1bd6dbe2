"""OAuth 2.0 Token Exchange (RFC 8693) for gateways and multi-hop MCP: the subject token check.

A confidential client acting for resource A (an MCP server or gateway) presents a
``subject_token`` whose ``aud`` is A and asks for a token for resource B. Allowed only where
an admin configured that exchange (TokenExchangePolicy: client, A -> B, scopes). The new
token: ``aud`` B, ``sub`` of the original subject, scopes no wider than both the subject
token's and the policy's, an ``act`` claim naming the exchanging client (nested for further
hops, RFC 8693 §4.1), short-lived (never outliving the subject token), and in the subject
token's family, so revoking the original grant revokes every hop. The grant itself is
authserver.token_endpoint.grants.token_exchange.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.conf import settings
from jwcrypto import jwk, jws

from authserver.errors import InvalidGrant
from authserver.keys import keyring as keys
from authserver.models import AccessToken, SigningKey
from authserver.token_endpoint import grant_types
from authserver.token_hash import token_hash

GRANT_TYPE = grant_types.TOKEN_EXCHANGE
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105
MAX_CHAIN = 5  # hops an act chain may have


def verify_subject_token(token: str, *, now: datetime) -> tuple[dict, AccessToken]:
    """One of our own, unexpired, unrevoked access tokens; its claims and its row."""
    if not token or len(token) > 8192:
        raise InvalidGrant("subject_token is not a valid access token")
    try:
        parsed = jws.JWS()
        parsed.deserialize(token)
        header = parsed.jose_header
        key = SigningKey.objects.filter(
            kid=header.get("kid", ""), state__in=keys.PUBLISHED_STATES
        ).first()
        if key is None or header.get("typ") != "at+jwt" or header.get("alg") != key.alg:
            raise ValueError("unknown key or type")
        parsed.verify(jwk.JWK(**keys.public_jwk(key)), alg=key.alg)
        claims = json.loads(parsed.payload)
    except (ValueError, KeyError, TypeError, jws.InvalidJWSObject, jws.InvalidJWSSignature):
        raise InvalidGrant("subject_token is not a valid access token") from None
    row = (
        AccessToken.objects.filter(token_checksum=token_hash(token)).select_related("user").first()
    )
    if (
        not isinstance(claims, dict)
        or claims.get("iss") != settings.ISSUER
        or row is None
        or row.revoked_at is not None
        or not isinstance(claims.get("exp"), int)
        or claims["exp"] <= now.timestamp()
    ):
        raise InvalidGrant("subject_token is expired, revoked or not ours")
    return claims, row


def chain_depth(act: dict | None) -> int:
    depth = 0
    while isinstance(act, dict):
        depth += 1
        act = act.get("act")
    return depth
