"""CORS by django-cors-headers (settings ``CORS_*``), with preflights answered ``204``.

The library does the work; this module only keeps the preflight status (a preflight has no
body, so ``204 No Content``; the Fetch standard accepts any ok status) and names the rule
other middleware share: which paths CORS applies to (``settings.CORS_URLS_REGEX``).
"""

from __future__ import annotations

import re

from corsheaders.middleware import CorsMiddleware as LibraryCorsMiddleware
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase


def cors_applies(path: str) -> bool:
    return re.match(settings.CORS_URLS_REGEX, path) is not None


class CorsMiddleware(LibraryCorsMiddleware):
    def check_preflight(self, request: HttpRequest) -> HttpResponseBase | None:
        response = super().check_preflight(request)
        if response is not None:
            response.status_code = 204  # Fetch §3.2.3 (CORS-preflight fetch): any ok status
            del response["Content-Type"]  # RFC 9110 §15.3.5: a 204 has no content to type
        return response
