"""CORS for browser-based MCP clients (the MCP Inspector calls us from a web page).

``Access-Control-Allow-Origin: *`` without credentials, only on the machine-facing
endpoints: discovery, JWKS, registration, token, revocation, introspection and the
revocation list. Never on the authorization endpoint, consent, login or admin, which rely
on the user's cookies.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CORS_PATHS = frozenset(
    {"/token", "/revoke", "/introspect", "/register", "/jwks.json", "/revocations"}
)
CORS_PREFIXES = ("/.well-known/", "/register/")
ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
# MCP Inspector preflights with mcp-protocol-version (modelcontextprotocol/inspector#758).
ALLOW_HEADERS = "Authorization, Content-Type, MCP-Protocol-Version, If-None-Match"
EXPOSE_HEADERS = "WWW-Authenticate, ETag, Cache-Control"


def cors_applies(path: str) -> bool:
    return (
        path in CORS_PATHS
        or path.startswith(CORS_PREFIXES)
        or path.endswith("/.well-known/openid-configuration")
    )


class CorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not cors_applies(request.path):
            return self.get_response(request)
        if request.method == "OPTIONS":
            # Preflight (Fetch standard §3.2.2): answered here, before CSRF or the view.
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response["Access-Control-Max-Age"] = "86400"
            response["Allow"] = ALLOW_METHODS
        else:
            response = self.get_response(request)
            response["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        response["Access-Control-Allow-Origin"] = "*"
        return response
