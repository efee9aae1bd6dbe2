"""The one place errors become responses: OAuth JSON bodies, authorization redirects, pages.

Every response written here carries the error code it answers with as
``response.oauth_error`` (read by authserver.ops.metrics: no body or ``Location`` parsing).
A 5xx never says more than its code; the detail goes to the log only (RFC 6749 §5.2 leaves
the description optional; node-oidc-provider's ``err_out`` does the same).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from oauth2_provider.http import OAuth2ResponseRedirect

from authserver.errors.codes import MethodNotAllowed, NotFound, OAuthError, TemporarilyUnavailable

logger = logging.getLogger("authserver.errors")
ERROR_PAGE = "authserver/authorize_error.html"
# Endpoints whose every answer is JSON (machines call them: RFC 6749 §5.2, RFC 7591 §3.2.2,
# RFC 7009, RFC 7662, RFC 8414 discovery), so an unexpected failure there is JSON too.
MACHINE_PATHS = frozenset(
    {"/token", "/revoke", "/introspect", "/register", "/jwks.json", "/revocations", "/openapi.json"}
)
MACHINE_PREFIXES = ("/.well-known/", "/register/")
UNAVAILABLE_PAGE = "<h1>Temporarily unavailable</h1><p>Please try again in a moment.</p>"


ACCESS_DENIED_PAGE = "authserver/access_denied.html"
SERVER_ERROR_TEMPLATE = "500.html"
SERVER_ERROR_PAGE = (
    "<!doctype html><title>Server error</title>"
    "<h1>Something went wrong</h1><p>Please try again in a moment.</p>"
)


def error_code_of(response: HttpResponse) -> str:
    """The error a response written here answers with; "" for any other response."""
    return getattr(response, "oauth_error", "")


def _tagged(response: HttpResponse, error: str) -> HttpResponse:
    response.oauth_error = error
    return response


def _log_detail(exc: OAuthError) -> None:
    if exc.detail:
        logger.info("%s: %s", exc.error, exc.detail)


def json_error(exc: OAuthError, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
    """RFC 6749 §5.2 (and RFC 7591 §3.2.2, RFC 7009 §2.2.1): ``{"error", "error_description",
    "error_uri"}``, with the headers the error class asks for and those the endpoint adds to
    every answer (``headers``, e.g. the token endpoint's ``DPoP-Nonce``)."""
    _log_detail(exc)
    body = {"error": exc.error}
    if exc.status < 500 and exc.description:
        body["error_description"] = exc.description
    if exc.status < 500 and exc.error_uri:
        body["error_uri"] = exc.error_uri
    response = JsonResponse(body, status=exc.status)
    # RFC 6749 §5.1: "Cache-Control: no-store" and "Pragma: no-cache" on token endpoint
    # answers; every error here is answered the same way.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    if challenge := exc.challenge():
        response["WWW-Authenticate"] = challenge
    if exc.allow:
        response["Allow"] = exc.allow
    if exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    for name, value in (headers or {}).items():
        response[name] = value
    return _tagged(response, exc.error)


def method_not_allowed(allowed: list[str] | tuple[str, ...], description: str = "") -> HttpResponse:
    """405 as JSON with ``Allow`` (RFC 9110 §15.5.6), for a machine endpoint; the description
    names the methods a client should use (OPTIONS is for preflights)."""
    usable = [m for m in allowed if m not in ("OPTIONS", "HEAD")]
    description = description or ("use " + " or ".join(usable) if usable else "")
    return json_error(MethodNotAllowed(description, allow=", ".join(allowed)))


def not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """404 as JSON: discovery clients probe well-known paths and stop at HTML or a 5xx."""
    return json_error(NotFound())


def wants_json(request: HttpRequest) -> bool:
    path = request.path
    return (
        path in MACHINE_PATHS
        or path.startswith(MACHINE_PREFIXES)
        or path.endswith("/.well-known/openid-configuration")
        or "json" in request.headers.get("Accept", "")
    )


def unavailable(request: HttpRequest, *, as_json: bool) -> HttpResponse:
    """503 ``temporarily_unavailable`` with ``Retry-After``: JSON for machines, a short page
    for people (no detail either way)."""
    exc = TemporarilyUnavailable("the service is briefly unavailable")
    if as_json:
        return json_error(exc)
    response = HttpResponse(UNAVAILABLE_PAGE, status=503)
    response["Retry-After"] = str(exc.retry_after)
    return _tagged(response, exc.error)


def error_page(request: HttpRequest, exc: OAuthError, *, status: int = 400) -> HttpResponse:
    """RFC 6749 §4.1.2.1: when the client or redirect URI is not known good, the user sees the
    error; nothing is redirected."""
    _log_detail(exc)
    response = render(
        request, ERROR_PAGE, {"error": exc.error, "description": exc.description}, status=status
    )
    return _tagged(response, exc.error)


def error_redirect(
    redirect_uri: str, exc: OAuthError, *, state: str | None, schemes: list[str]
) -> HttpResponse:
    """RFC 6749 §4.1.2.1: the error back to the client's (validated) redirect URI, with
    ``state`` and, RFC 9207 §2, ``iss`` on error responses too."""
    _log_detail(exc)
    params = {"error": exc.error}
    if exc.status < 500 and exc.description:
        params["error_description"] = exc.description
    if exc.error_uri:
        params["error_uri"] = exc.error_uri
    if state is not None:
        params["state"] = state
    params["iss"] = settings.ISSUER
    uri = redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(params)
    return _tagged(OAuth2ResponseRedirect(uri, schemes), exc.error)


def access_denied_page(request: HttpRequest, *, reason: str, back_url: str) -> HttpResponse:
    """RFC 6749 §4.1.2.1 ``access_denied`` shown to the user (a policy refused them), with
    the way back to the client (its error redirect)."""
    response = render(
        request, ACCESS_DENIED_PAGE, {"reason": reason, "back_url": back_url}, status=403
    )
    return _tagged(response, "access_denied")


def server_error_page(request: HttpRequest) -> HttpResponse:
    """A 500 page for people: no detail. ``500.html`` (the sign-in screens' look) is rendered
    without the request, as Django's own handler500 does, so nothing of it can show; should
    even that fail, a bare page without a template."""
    try:
        body = loader.get_template(SERVER_ERROR_TEMPLATE).render()
    except Exception:  # the page of last resort must not raise in turn
        logger.exception("%s could not be rendered", SERVER_ERROR_TEMPLATE)
        body = SERVER_ERROR_PAGE
    response = HttpResponse(body, status=500, content_type="text/html")
    return _tagged(response, "server_error")
