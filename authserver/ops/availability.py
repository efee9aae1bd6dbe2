"""A dependency that is down gives a clean 503, never a 500 (STYLE §4: fail closed).

The database is required for everything that issues or checks credentials; when it is
unreachable, machine endpoints answer the OAuth error JSON ``temporarily_unavailable``
(RFC 6749 §4.1.2.1, §5.2 extension) with ``Retry-After``, and pages a short HTML 503.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from authserver.errors import TemporarilyUnavailable, to_response
from authserver.ops.cors import cors_applies

log = logging.getLogger("authserver.ops.availability")
RETRY_AFTER = "5"


class DependencyUnavailableMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError) as exc:
            return self.unavailable(request, exc)

    def process_exception(self, request: HttpRequest, exc: Exception):
        if isinstance(exc, OperationalError | InterfaceError) or (
            isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
        ):
            return self.unavailable(request, exc)
        return None

    def unavailable(self, request: HttpRequest, exc: Exception) -> HttpResponse:
        log.warning("database unavailable for %s: %s", request.path, type(exc).__name__)
        if (
            cors_applies(request.path)
            or request.path in ("/authorize",)
            or ("json" in request.headers.get("Accept", ""))
        ):
            response = to_response(TemporarilyUnavailable("the service is briefly unavailable"))
        else:
            response = HttpResponse(
                "<h1>Temporarily unavailable</h1><p>Please try again in a moment.</p>",
                status=503,
            )
        response["Retry-After"] = RETRY_AFTER
        return response
