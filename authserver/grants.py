"""Bind every token request to one resource and its scopes, before a token is minted.

Runs as an oauthlib ``post_token`` validator on the authorization code, refresh token and
client credentials grants (wired by :class:`authserver.server.AuthorizationServer`), after
oauthlib and DOT have authenticated the client and checked the code or refresh token, and
before :func:`authserver.tokens.generate_access_token` signs anything.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from authserver import dpop, grouppolicy, metadata, pkce, resources, scopes
from authserver.errors import InvalidGrant, InvalidRequest, InvalidTarget, OAuthError, to_oauthlib
from authserver.models import Grant, RefreshToken, Resource, ResourceAccess


def requested_resource_values(request) -> list[str]:
    """All ``resource`` parameters; oauthlib keeps only the last of repeated ones."""
    body = getattr(request, "decoded_body", None) or []
    values = [v for k, v in body if k == "resource"]
    if not values and isinstance(getattr(request, "resource", None), str):
        values = [request.resource]
    return values


def bind_token_request(request) -> None:
    try:
        _bind(request)
    except OAuthError as exc:
        raise to_oauthlib(exc, request) from None


def _bound_resource(identifiers: list[str], requested: list[str]) -> Resource:
    """The resource recorded on a grant or refresh token; a request may only repeat it."""
    if len(identifiers) != 1:
        raise InvalidGrant("grant is not bound to exactly one resource")
    try:
        resource = resources.find_resource(resources.canonicalize(identifiers[0]))
    except InvalidTarget:
        raise InvalidTarget("the resource of this grant is no longer available") from None
    # RFC 8707 §2.2: a token request may narrow, never widen; with one audience that is
    # the same resource or nothing.
    for value in resources.requested_resources(requested):
        if value != resource.canonical:
            raise InvalidTarget("resource differs from the one that was authorized")
    return resource


def dpop_proof_header(request) -> str | None:
    headers = request.headers or {}
    return headers.get("HTTP_DPOP") or headers.get("DPoP")


def token_endpoint_url() -> str:
    return metadata.origin(settings.ISSUER) + reverse("oauth2_provider:token")


def _bind_dpop(request) -> str | None:
    """RFC 9449 §5: a proof on a token request binds what is issued to the proof's key."""
    proof = dpop_proof_header(request)
    if not proof:
        return None
    jkt = dpop.validate_proof(proof, htm=request.http_method, htu=token_endpoint_url())
    request.dpop_jkt = jkt
    # RFC 9449 §5: token_type "DPoP"; oauthlib merges extra_credentials into the response.
    request.extra_credentials = {**(request.extra_credentials or {}), "token_type": "DPoP"}
    return jkt


def _require_dpop(resource, jkt: str | None) -> None:
    if resource.require_dpop and not jkt:
        raise dpop.InvalidDPoPProof("this resource only accepts DPoP-bound tokens")


def _bind(request) -> None:
    values = requested_resource_values(request)
    requested_scopes = scopes.parse_scope(getattr(request, "scope", None))
    grant_type = request.grant_type
    jkt = _bind_dpop(request)

    if grant_type == "client_credentials":
        client = request.client
        resource = resources.resolve_resource(
            values, default=lambda: resources.default_resource_for_client(client)
        )
        _require_dpop(resource, jkt)
        # At most one row per (client, resource) (unique_access_per_pair); only its scope.
        granted = list(
            ResourceAccess.objects.filter(client=client, resource=resource).values_list(
                "scope", flat=True
            )
        )
        if not granted:
            raise InvalidTarget(
                "this client is not allowed to get tokens for this resource",
                detail=f"client {client.client_id} has no access to {resource.identifier}",
            )
        request.scopes = scopes.for_client_credentials(
            requested_scopes, resource, granted[0].split()
        )
        request.user = None
        request.token_family = None
    elif grant_type == "authorization_code":
        grant = Grant.objects.filter(code=request.code, application=request.client).first()
        if grant is None:
            raise InvalidGrant("invalid authorization code")
        resource = _bound_resource(grant.resource, values)
        _require_dpop(resource, jkt)
        request.scopes = scopes.narrow(requested_scopes, grant.scope.split())
        # Single use, race-free: of two concurrent redemptions one updates the row, the
        # other matches nothing and fails (RFC 6749 §4.1.2; OAuth 2.1 §4.1.3).
        if not Grant.objects.filter(pk=grant.pk, consumed_at__isnull=True).update(
            consumed_at=timezone.now()
        ):
            raise InvalidGrant("authorization code already used")
        request.auth_time = grant.auth_time
        request.token_family = grant.token_family
    elif grant_type == "refresh_token":
        rt = request.refresh_token_instance
        resource = _bound_resource(rt.resource, values)
        _require_dpop(resource, jkt)
        # RFC 9449 §5: a bound refresh token needs a proof with the same key.
        if rt.jkt and rt.jkt != jkt:
            raise dpop.InvalidDPoPProof("refresh token is bound to another DPoP key")
        # Claim the rotation: of concurrent refreshes with one token exactly one proceeds;
        # the others fail without revoking the family (they are within the grace window).
        if not RefreshToken.objects.filter(pk=rt.pk, revoked__isnull=True).update(
            revoked=timezone.now()
        ):
            raise InvalidGrant("refresh token already used")
        # oauthlib already narrowed request.scopes against the original grant (RFC 6749 §6).
        previous = rt.access_token
        request.auth_time = previous.auth_time if previous is not None else None
        request.token_family = rt.token_family
    else:  # pragma: no cover - the server only routes the three grants above
        raise InvalidGrant("unsupported grant")

    # Issue 21: group policy on every user token request, refresh included (narrow or refuse).
    request.scopes = grouppolicy.scopes_for_token(
        request.user, resource, list(request.scopes or [])
    )

    request.audience = resource
    request.resource = [resource.identifier]  # DOT stores it on the token rows


def refresh_token_policy(token: dict, token_handler, request) -> dict:
    """Token modifier: a refresh token only with offline_access or a refresh_token grant,
    and only where the resource issues them."""
    resource = getattr(request, "audience", None)
    wants = scopes.OFFLINE_ACCESS in (request.scopes or []) or "refresh_token" in (
        request.client.grant_types or []
    )
    if not (resource is not None and resource.issue_refresh_tokens and wants):
        token.pop("refresh_token", None)
    return token


def authorization_resource_values(request) -> list[str]:
    """``resource`` values of an authorization request (repeats allowed, RFC 8707 §2)."""
    bound = getattr(request, "resource", None)
    if isinstance(bound, list):  # re-validation on consent: credentials carry the list
        return bound
    query = urlsplit(request.uri).query
    return [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "resource"]


def bind_authorization_request(request) -> dict:
    """oauthlib ``post_auth`` validator: one resource, the scopes the user will be asked for.

    Runs after the client and redirect URI were validated, so its errors are redirected to
    the client (RFC 6749 §4.1.2.1).
    """
    try:
        if not pkce.is_valid_challenge(request.code_challenge):
            # RFC 7636 §4.2: an S256 challenge is 43 base64url characters.
            raise InvalidRequest("code_challenge must be a base64url SHA-256 (S256) value")
        resource = resources.resolve_resource(
            authorization_resource_values(request),
            default=lambda: resources.default_resource_for_client(request.client),
        )
        requested = scopes.parse_scope(request.scopes or [])
    except OAuthError as exc:
        raise to_oauthlib(exc, request) from None
    request.scopes = scopes.for_authorization(requested, resource)
    request.resource = [resource.identifier]
    return {"resource": [resource.identifier], "resource_id": resource.pk}
