"""OAuth 2.0 Token Exchange (RFC 8693) for gateways and multi-hop MCP.

A confidential client acting for resource A (an MCP server or gateway) presents a
``subject_token`` whose ``aud`` is A and asks for a token for resource B. Allowed only where
an admin configured that exchange (TokenExchangePolicy: client, A -> B, scopes). The new
token: ``aud`` B, ``sub`` of the original subject, scopes no wider than both the subject
token's and the policy's, an ``act`` claim naming the exchanging client (nested for further
hops, RFC 8693 §4.1), short-lived (never outliving the subject token), and in the subject
token's family, so revoking the original grant revokes every hop.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid

from django.conf import settings
from jwcrypto import jwk, jws
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors
from oauthlib.oauth2.rfc6749.grant_types.base import GrantTypeBase

from authserver import audit, grouppolicy, keys, resources, scopes
from authserver.errors import (
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    to_oauthlib,
)
from authserver.models import AccessToken, SigningKey, TokenExchangePolicy

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105
MAX_CHAIN = 5  # hops an act chain may have


def verify_subject_token(token: str) -> tuple[dict, AccessToken]:
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
    checksum = hashlib.sha256(token.encode()).hexdigest()
    row = AccessToken.objects.filter(token_checksum=checksum).select_related("user").first()
    if (
        claims.get("iss") != settings.ISSUER
        or row is None
        or row.revoked_at is not None
        or claims.get("exp", 0) <= time.time()
    ):
        raise InvalidGrant("subject_token is expired, revoked or not ours")
    return claims, row


def chain_depth(act: dict | None) -> int:
    depth = 0
    while isinstance(act, dict):
        depth += 1
        act = act.get("act")
    return depth


def bind_exchange(request) -> None:
    """Validate an exchange and bind the request like authserver.grants does for others."""
    if getattr(request, "actor_token", None):
        # RFC 8693 §2.1: actor tokens are optional; we support delegation via the client.
        raise InvalidRequest("actor_token is not supported")
    if request.subject_token_type not in (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE):
        raise InvalidRequest("subject_token_type must be an access token")
    requested_type = getattr(request, "requested_token_type", None)
    if requested_type not in (None, "", ACCESS_TOKEN_TYPE):
        raise InvalidRequest("only access tokens can be requested")
    claims, row = verify_subject_token(request.subject_token)
    client = request.client
    source = resources.find_resource(resources.canonicalize(str(claims.get("aud", ""))))
    policies = TokenExchangePolicy.objects.filter(client=client, source=source, enabled=True)
    if not policies.exists():
        # The subject token is not for a resource this client speaks for.
        raise InvalidGrant(
            "subject_token audience is not a resource this client may exchange from",
            detail=f"client {client.client_id}, aud {source.identifier}",
        )
    from authserver.grants import requested_resource_values

    target = resources.resolve_resource(requested_resource_values(request))
    policy = policies.filter(target=target).first()
    if policy is None:
        raise InvalidTarget("no exchange to this resource is configured for this client")
    allowed = [s for s in claims.get("scope", "").split() if s in policy.scope.split()]
    requested = scopes.parse_scope(getattr(request, "scope", None))
    granted = scopes.narrow(requested, allowed) if requested else allowed
    if not granted:
        raise InvalidScope("the subject token carries no scope the policy allows")
    act = {"sub": client.client_id}
    if isinstance(claims.get("act"), dict):
        act["act"] = claims["act"]
    if chain_depth(act) > MAX_CHAIN:
        raise InvalidRequest("delegation chain too long")
    if row.token_family is None:  # give client-credentials subjects a family to cascade on
        row.token_family = uuid.uuid4()
        AccessToken.objects.filter(pk=row.pk).update(token_family=row.token_family)
    # Issue 21: the target's group policy binds the user an exchanged token acts for.
    granted = grouppolicy.scopes_for_token(row.user, target, granted)
    request.audience = target
    request.resource = [target.identifier]
    request.scopes = granted
    request.user = row.user
    request.subject = str(claims["sub"])
    request.act = act
    request.token_family = row.token_family
    request.auth_time = row.auth_time
    # RFC 8693 §2.2.1 leaves the lifetime to us: never outlive the subject token.
    request.not_after = int(claims["exp"])
    request.subject_jti = claims.get("jti", "")


class TokenExchangeGrant(GrantTypeBase):
    """An oauthlib grant type (what DOT's OAUTH2_SERVER_CLASS routes to)."""

    def create_token_response(self, request, token_handler):
        headers = self._get_default_headers()
        try:
            self.validate_token_request(request)
        except oauthlib_errors.OAuth2Error as exc:
            headers.update(exc.headers)
            return headers, exc.json, exc.status_code
        token = token_handler.create_token(request, refresh_token=False)
        token["issued_token_type"] = ACCESS_TOKEN_TYPE  # RFC 8693 §2.2.1
        self.request_validator.save_token(token, request)
        audit.record(
            "token.exchanged",
            actor=f"client:{request.client.client_id}",
            client_id=request.client.client_id,
            user_id=request.user.pk if request.user else "",
            resource=request.audience.identifier,
            jti=request.issued_token.jti,
            family=request.token_family,
            scope=" ".join(request.scopes),
            detail={"subject_jti": request.subject_jti, "act": request.act},
        )
        return headers, json.dumps(token), 200

    def validate_token_request(self, request):
        for param in ("subject_token", "subject_token_type"):
            if not getattr(request, param, None):
                raise oauthlib_errors.InvalidRequestError(
                    description=f"missing {param}", request=request
                )
        client = None
        if request.client_id:
            client = self.request_validator._load_application(request.client_id, request)
        if client is not None and client.is_public:
            raise oauthlib_errors.UnauthorizedClientError(
                description="token exchange is for confidential clients", request=request
            )
        if not self.request_validator.authenticate_client(request):
            raise oauthlib_errors.InvalidClientError(request=request)
        if GRANT_TYPE not in (request.client.grant_types or []):
            raise oauthlib_errors.UnauthorizedClientError(request=request)
        try:
            bind_exchange(request)
        except OAuthError as exc:
            raise to_oauthlib(exc, request) from None
