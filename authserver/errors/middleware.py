"""What an exception a view did not turn into a response becomes (the writer renders it).

:func:`as_oauth_error` classifies: our errors stay as they are; a database that cannot be
reached, no usable signing key or a key that cannot be decrypted (``codes.KeyUnavailable``,
raised by keys.keyring and keys.secretbox) is a 503 ``temporarily_unavailable`` with
``Retry-After`` (RFC 6749 §4.1.2.1: the server is "unable to handle the request due to a temporary
overloading or maintenance"); anything else a bare 500 ``server_error`` with the detail in
the log only. :class:`ErrorMiddleware` applies it to the machine (JSON) endpoints; pages
keep Django's own HTML 500, which shows no detail when ``DEBUG`` is off.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from authserver.errors import writer
from authserver.errors.codes import (
    KeyUnavailable,
    OAuthError,
    ServerError,
    TemporarilyUnavailable,
)

log = logging.getLogger("authserver.errors")


def database_unreachable(exc: BaseException) -> bool:
    """A failure to reach the database, as opposed to a query that failed."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    )


def as_oauth_error(exc: BaseException, where: str) -> OAuthError:
    """The error to answer ``exc`` with, logged here with what only the log may see."""
    if isinstance(exc, OAuthError):
        return exc
    if database_unreachable(exc):
        log.warning("%s: database unavailable (%s)", where, type(exc).__name__)
        return TemporarilyUnavailable("the service is briefly unavailable")
    if isinstance(exc, KeyUnavailable):
        log.error("%s: no usable signing key (%s)", where, type(exc).__name__)
        return TemporarilyUnavailable("no signing key is available")
    log.error("%s failed (%s)", where, type(exc).__name__, exc_info=exc)
    return ServerError()


class ErrorMiddleware:
    """Exceptions out of views on machine endpoints become the writer's JSON."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        # SCIM answers in its own format (RFC 7644 §3.12, accounts.scim.errors).
        if request.path.startswith("/scim/") or not writer.wants_json(request):
            return None  # Django's handler500: an HTML page without detail
        return writer.json_error(as_oauth_error(exc, f"{request.method} {request.path}"))


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's ``handler500`` (an exception outside any view, e.g. in a middleware): JSON
    for machine endpoints, a page without detail for people; the detail is logged by Django."""
    if writer.wants_json(request) and not request.path.startswith("/scim/"):
        return writer.json_error(ServerError())
    return writer.server_error_page(request)
