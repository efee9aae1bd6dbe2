"""Bind every authorization request to one resource and the scopes the user is asked for.

Runs as an oauthlib ``post_auth`` validator of the authorization code grant (wired by
:class:`authserver.authorization.server.AuthorizationServer`). The token endpoint's grants are
authserver.token_endpoint.grants.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from authserver import tool_grants
from authserver.errors import InvalidRequest, OAuthError, to_oauthlib
from authserver.protocol import pkce, scopes
from authserver.resources import registry as resources


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
        details = authorization_details_value(request)
        # RFC 9396 §5: checked here, so errors go back to the client's redirect URI.
        tool_grants.check_request(details, resource)
    except OAuthError as exc:
        raise to_oauthlib(exc, request) from None
    request.scopes = scopes.for_authorization(requested, resource)
    request.resource = [resource.identifier]
    return {
        "resource": [resource.identifier],
        "resource_id": resource.pk,
        "authorization_details": details,
    }


def authorization_details_value(request):
    """RFC 9396 §3: the ``authorization_details`` query parameter (JSON), or None."""
    carried = getattr(request, "authorization_details", None)
    if carried is not None:  # re-validation on consent: credentials carry it
        return carried
    query = urlsplit(request.uri).query
    values = [
        v for k, v in parse_qsl(query, keep_blank_values=True) if k == "authorization_details"
    ]
    return values[0] if values else None
