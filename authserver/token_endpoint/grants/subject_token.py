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

from datetime import datetime

from django.conf import settings
from jwcrypto import jwk

from authserver.errors import InvalidGrant, InvalidRequest
from authserver.keys import keyring as keys
from authserver.models import AccessToken, SigningKey
from authserver.token_endpoint import grant_types
from authserver.token_hash import token_hash
from mcp_token_verifier import jws

GRANT_TYPE = grant_types.TOKEN_EXCHANGE
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105
MAX_CHAIN = 5  # hops an act chain may have
MAX_SUBJECT_TOKEN_CHARS = 8192
ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 -- RFC 9068 §2.1, a media type


def check_parameters(req) -> None:
    """RFC 8693 §2.1 parameters, the same for every exchange (ours, or a feature's strategy
    such as vending): a subject token of an access-token type, no actor token, an access
    token asked for."""
    for name in ("subject_token", "subject_token_type"):
        if not req.get(name):
            raise InvalidRequest(f"missing {name}")
    if req.get("actor_token"):
        # RFC 8693 §2.1: actor tokens are optional; we support delegation via the client.
        raise InvalidRequest("actor_token is not supported")
    if req.get("subject_token_type") not in (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE):
        raise InvalidRequest("subject_token_type must be an access token")
    if req.get("requested_token_type") not in (None, ACCESS_TOKEN_TYPE):
        raise InvalidRequest("only access tokens can be requested")


def verify_subject_token(token: str, *, now: datetime) -> tuple[dict, AccessToken]:
    """One of our own, unexpired, unrevoked access tokens; its claims and its row.

    The one JWS path (mcp_token_verifier.jws), as an MCP server verifies the same token:
    ``typ`` at+jwt, an allowed ``alg`` that is the published key's own, its signature; then
    ``iss``, and ``exp``/``iat`` against ``now`` with no leeway (we signed it, on our clock).
    """
    try:
        verified = jws.verify(
            token,
            typ=ACCESS_TOKEN_TYP,
            algorithms=jws.SIGNATURE_ALGORITHMS,
            resolve=_published_key,
            kid_required=True,
            max_chars=MAX_SUBJECT_TOKEN_CHARS,
        )
    except jws.JWSError:
        raise InvalidGrant("subject_token is not a valid access token") from None
    claims = verified.claims
    row = (
        AccessToken.objects.filter(token_checksum=token_hash(token)).select_related("user").first()
    )
    try:
        # RFC 8693 §2.2.1 leaves validation to us: the rules RFC 9068 §4 sets for our tokens.
        jws.check_times(claims, now=now.timestamp(), required=("exp", "iat"))
    except jws.JWSError:
        raise InvalidGrant("subject_token is expired, revoked or not ours") from None
    if claims.get("iss") != settings.ISSUER or row is None or row.revoked_at is not None:
        raise InvalidGrant("subject_token is expired, revoked or not ours")
    return claims, row


def _published_key(alg: str, kid: str | None, _header: dict) -> jws.SignatureCheck:
    """The check of our published key ``kid``, if ``alg`` is that key's algorithm."""
    key = SigningKey.objects.filter(kid=kid or "", state__in=keys.PUBLISHED_STATES).first()
    if key is None or key.alg != alg:
        raise jws.JWSError("signed with an unknown key", reason="key")
    try:
        public = jwk.JWK(**keys.public_jwk(key))
    except Exception:  # jwcrypto raises many types; a key we cannot load verifies nothing
        raise jws.JWSError("signed with an unusable key", reason="key") from None
    return jws.signature_check(public, alg)


def check_sender_constraint(claims: dict, *, source, target, jkt: str) -> None:
    """A DPoP-bound subject token (RFC 9449 §6: ``cnf.jkt``) exchanged without a proof gives
    a Bearer token: the exchanging party cannot prove the client's key, so it cannot keep the
    client's binding (docs/protocol.md). Where the source or the target resource says
    ``require_sender_constrained_exchange``, such an exchange must bind the new token to the
    exchanging party's own key (a DPoP proof on this request), or is refused (RFC 6749 §5.2
    invalid_request)."""
    cnf = claims.get("cnf")
    bound = isinstance(cnf, dict) and bool(cnf.get("jkt"))
    required = any(r.require_sender_constrained_exchange for r in (source, target))
    if bound and required and not jkt:
        raise InvalidRequest(
            "the subject token is DPoP-bound and this exchange must stay sender-constrained: "
            "send a DPoP proof"
        )


def chain_depth(act: dict | None) -> int:
    depth = 0
    while isinstance(act, dict):
        depth += 1
        act = act.get("act")
    return depth
