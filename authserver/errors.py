"""One error hierarchy for the OAuth protocol, mapped to responses in one place.

Each subclass is one RFC error code. ``description`` goes to the client; ``detail`` goes to
logs only and never carries a secret. Inside oauthlib's flows (token endpoint) our errors are
turned into oauthlib errors by :func:`to_oauthlib`, so oauthlib renders them like its own;
in our own views :func:`to_response` renders them.
"""

from __future__ import annotations

import logging
import re

from django.http import JsonResponse
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors

logger = logging.getLogger("authserver.errors")

# RFC 6749 §5.2: error_description "MUST NOT include characters outside the set
# %x20-21 / %x23-5B / %x5D-7E" (RFC 7591 §3.2.2: "ASCII text"). Descriptions may quote what
# the client sent, so anything else is replaced.
_NOT_IN_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5B\x5D-\x7E]")


def description_text(description: str) -> str:
    # Our own citations ("RFC 6749 §3.3") stay readable rather than becoming "?".
    return _NOT_IN_DESCRIPTION.sub("?", description.replace("§", "section "))


class OAuthError(Exception):
    error, status = "server_error", 500
    error_uri = ""  # RFC 6749 §5.2: a page about the error (e.g. where to connect an account)

    def __init__(self, description: str = "", *, detail: str = "") -> None:
        super().__init__(detail or description)
        self.description = description_text(description)
        self.detail = detail


class InvalidRequest(OAuthError):
    error, status = "invalid_request", 400  # RFC 6749 §5.2


class InvalidClient(OAuthError):
    error, status = "invalid_client", 401  # RFC 6749 §5.2


class InvalidGrant(OAuthError):
    error, status = "invalid_grant", 400  # RFC 6749 §5.2


class UnauthorizedClient(OAuthError):
    error, status = "unauthorized_client", 400  # RFC 6749 §5.2


class InvalidScope(OAuthError):
    error, status = "invalid_scope", 400  # RFC 6749 §5.2


class InvalidTarget(OAuthError):
    error, status = "invalid_target", 400  # RFC 8707 §2


class InvalidAuthorizationDetails(OAuthError):
    error, status = "invalid_authorization_details", 400  # RFC 9396 §5


class AccessDenied(OAuthError):
    error, status = "access_denied", 403  # RFC 6749 §4.1.2.1


class TemporarilyUnavailable(OAuthError):
    error, status = "temporarily_unavailable", 503  # RFC 6749 §4.1.2.1


class InvalidClientMetadata(OAuthError):
    error, status = "invalid_client_metadata", 400  # RFC 7591 §3.2.2


class InvalidRedirectUri(OAuthError):
    error, status = "invalid_redirect_uri", 400  # RFC 7591 §3.2.2


def to_oauthlib(exc: OAuthError, request=None) -> oauthlib_errors.OAuth2Error:
    """Re-express one of ours as an oauthlib error, for raising inside oauthlib's flows."""
    if exc.detail:
        logger.info("%s: %s", exc.error, exc.detail)
    return oauthlib_errors.CustomOAuth2Error(
        error=exc.error, description=exc.description, status_code=exc.status, request=request
    )


def to_response(exc: OAuthError, *, www_authenticate: str | None = None) -> JsonResponse:
    """The JSON error body of RFC 6749 §5.2; a 5xx never says more than ``server_error``."""
    if exc.detail:
        logger.info("%s: %s", exc.error, exc.detail)
    body = {"error": exc.error}
    if exc.status < 500 and exc.description:
        body["error_description"] = exc.description
    if exc.status < 500 and exc.error_uri:
        body["error_uri"] = exc.error_uri
    response = JsonResponse(body, status=exc.status)
    response["Cache-Control"] = "no-store"
    if www_authenticate:
        response["WWW-Authenticate"] = www_authenticate
    return response
