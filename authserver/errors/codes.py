"""The error hierarchy: one class per RFC error code, with what its response needs.

``description`` goes to the client; ``detail`` goes to logs only and never carries a secret.
Each class says which headers its response carries (``challenge()``, ``retry_after``,
``allow``); authserver.errors.writer turns any of them into a response. Inside oauthlib's
authorization flow our errors travel as oauthlib errors (:func:`to_oauthlib`) and come back
with :func:`from_oauthlib`.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
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
    retry_after: int | None = None  # seconds, sent as Retry-After (RFC 9110 §10.2.3)
    allow = ""  # the methods a 405 names in Allow (RFC 9110 §15.5.6)

    def __init__(self, description: str = "", *, detail: str = "") -> None:
        super().__init__(detail or description)
        self.description = description_text(description)
        self.detail = detail

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value a 401 carries; none by default."""
        return ""


class KeyUnavailable(Exception):
    """No usable signing key, or a key at rest that no configured KEY_ENCRYPTION_KEY opens:
    answered as 503 ``temporarily_unavailable`` (authserver.errors.middleware). Defined here,
    below the key modules that raise it, so the error layer needs no key module."""


class ServerError(OAuthError):
    """RFC 6749 §4.1.2.1 ``server_error``: anything unexpected. Its body never says more."""

    error, status = "server_error", 500


class InvalidRequest(OAuthError):
    error, status = "invalid_request", 400  # RFC 6749 §5.2


class InvalidClient(OAuthError):
    error, status = "invalid_client", 401  # RFC 6749 §5.2

    def challenge(self) -> str:
        # RFC 6749 §5.2: the 401 "MUST include the WWW-Authenticate response header field
        # matching the authentication scheme used by the client"; clients here use Basic.
        return f'Basic realm="{settings.ISSUER}", charset="UTF-8"'


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


class LoginRequired(OAuthError):
    error, status = "login_required", 400  # OIDC Core §3.1.2.6 (prompt=none)


class ConsentRequired(OAuthError):
    error, status = "consent_required", 400  # OIDC Core §3.1.2.6 (prompt=none)


class TemporarilyUnavailable(OAuthError):
    error, status = "temporarily_unavailable", 503  # RFC 6749 §4.1.2.1
    retry_after = 5


class InvalidClientMetadata(OAuthError):
    error, status = "invalid_client_metadata", 400  # RFC 7591 §3.2.2


class InvalidRedirectUri(OAuthError):
    error, status = "invalid_redirect_uri", 400  # RFC 7591 §3.2.2


class MethodNotAllowed(OAuthError):
    error, status = "invalid_request", 405  # RFC 9110 §15.5.6

    def __init__(self, description: str = "", *, allow: str, detail: str = "") -> None:
        super().__init__(description, detail=detail)
        self.allow = allow


class NotFound(OAuthError):
    """No such endpoint or document; a discovery client stops at a 5xx, so this is JSON."""

    error, status = "not_found", 404


def to_oauthlib(exc: OAuthError, request=None) -> oauthlib_errors.OAuth2Error:
    """Re-express one of ours as an oauthlib error, for raising inside oauthlib's flows."""
    if exc.detail:
        logger.info("%s: %s", exc.error, exc.detail)
    return oauthlib_errors.CustomOAuth2Error(
        error=exc.error, description=exc.description, status_code=exc.status, request=request
    )


_OAUTHLIB_CODES = (
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    TemporarilyUnavailable,
    ServerError,
)
_BY_CODE = {cls.error: cls for cls in _OAUTHLIB_CODES}


def from_oauthlib(error: oauthlib_errors.OAuth2Error) -> OAuthError:
    """One of ours for an error oauthlib raised (its code and status kept), so the writer
    renders it like any other and a 401 gets our challenge."""
    exc = _BY_CODE.get(error.error, OAuthError)(error.description or "")
    exc.error, exc.status = error.error, error.status_code
    return exc
