"""A dependency that is down gives a clean 503, never a 500 (STYLE §4: fail closed).

The database is required for everything that issues or checks credentials; when it is
unreachable, machine endpoints answer the OAuth error JSON ``temporarily_unavailable``
(RFC 6749 §4.1.2.1, §5.2 extension) with ``Retry-After``, and pages a short HTML 503; both
written by authserver.errors.writer.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from authserver.errors import writer
from authserver.errors.middleware import database_unreachable

log = logging.getLogger("authserver.ops.availability")


class DependencyUnavailableMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError) as exc:
            return self.unavailable(request, exc)

    def process_exception(self, request: HttpRequest, exc: Exception):
        if database_unreachable(exc):
            return self.unavailable(request, exc)
        return None

    def unavailable(self, request: HttpRequest, exc: Exception) -> HttpResponse:
        log.warning("database unavailable for %s: %s", request.path, type(exc).__name__)
        # /authorize too, as before the writer existed (its 503 was always the JSON one).
        as_json = writer.wants_json(request) or request.path == "/authorize"
        return writer.unavailable(request, as_json=as_json)
