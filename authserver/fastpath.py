"""Serve the public, cacheable documents (JWKS, discovery, revocation list) without running
the whole middleware chain for every request.

MCP servers and clients fetch these constantly. The first request in a TTL window goes
through the normal chain (view, CORS, security headers); its response is kept in this
process for a couple of seconds and replayed, with If-None-Match answered by a 304, until
it expires. Per-request headers (X-Request-ID) are never replayed.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.http import parse_etags

from authserver import localcache

TTL = {
    "/.well-known/jwks.json": 2.0,
    "/jwks.json": 2.0,
    "/revocations": 1.0,
}
DISCOVERY_TTL = 5.0
DISCOVERY_PREFIXES = (
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
)
NOT_REPLAYED = {"x-request-id", "content-length"}


def ttl_for(path: str) -> float | None:
    if path in TTL:
        return TTL[path]
    if path.startswith(DISCOVERY_PREFIXES) or path.endswith("/.well-known/openid-configuration"):
        return DISCOVERY_TTL
    return None


class FastDocumentsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ttl = ttl_for(request.path)
        if ttl is None or request.method not in ("GET", "HEAD") or request.GET:
            return self.get_response(request)
        rendered: list[HttpResponse] = []

        def render() -> tuple[int, bytes, list[tuple[str, str]]] | None:
            response = self.get_response(request)
            rendered.append(response)
            if response.status_code != 200 or getattr(response, "streaming", False):
                return None
            headers = [(k, v) for k, v in response.items() if k.lower() not in NOT_REPLAYED]
            return response.status_code, response.content, headers

        # The one request that renders must get the full document, whatever it sent.
        if_none_match = request.META.pop("HTTP_IF_NONE_MATCH", None)
        try:
            cached = localcache.get(("fastpath", request.path), render, ttl)
        finally:
            if if_none_match is not None:
                request.META["HTTP_IF_NONE_MATCH"] = if_none_match
        if cached is None:  # not cacheable (an error): answer what the chain said
            return rendered[0] if rendered else self.get_response(request)
        status, body, headers = cached
        header_map = dict(headers)
        etag = header_map.get("ETag")
        tags = parse_etags(request.headers.get("If-None-Match", ""))
        if etag and (etag in tags or "*" in tags):
            response = HttpResponse(status=304)
            for name, value in headers:
                if name.lower() not in ("content-type",):
                    response[name] = value
            return response
        response = HttpResponse(body, status=status)
        for name, value in headers:
            response[name] = value
        return response
