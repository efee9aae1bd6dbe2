"""Serve the public, cacheable documents (JWKS, discovery, revocation list) without running
Django for every request.

MCP servers and clients fetch these constantly. The first request in a TTL window goes
through the normal chain (view, CORS, security headers) and ``FastDocumentsMiddleware``
keeps its response in this process for a second or a few. Until it expires,
``FastDocumentsApp`` (the WSGI entry point, authserver.wsgi) replays those bytes before
Django builds a request at all, answering If-None-Match with a 304. Only GET and HEAD
without a query string are replayed; per-request headers (X-Request-ID) never are.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse
from django.utils.http import parse_etags

from authserver.ops import localcache, metrics
from authserver.ops.logs import request_id_from

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
Cached = tuple[int, bytes, list[tuple[str, str]]]


def ttl_for(path: str) -> float | None:
    if path in TTL:
        return TTL[path]
    if path.startswith(DISCOVERY_PREFIXES) or path.endswith("/.well-known/openid-configuration"):
        return DISCOVERY_TTL
    return None


def replay(cached: Cached, if_none_match: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status, headers and body to answer with; a 304 when the ETag matches
    (RFC 9110 §13.1.2)."""
    status, body, headers = cached
    etag = next((v for k, v in headers if k == "ETag"), None)
    if etag and if_none_match:
        tags = parse_etags(if_none_match)
        if etag in tags or "*" in tags:
            return 304, [(k, v) for k, v in headers if k.lower() != "content-type"], b""
    return status, headers, body


class FastDocumentsMiddleware:
    """Fills the cache from the normal chain (and replays, for servers not behind
    FastDocumentsApp, e.g. the test client)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ttl = ttl_for(request.path)
        if ttl is None or request.method not in ("GET", "HEAD") or request.GET:
            return self.get_response(request)
        rendered: list[HttpResponse] = []

        def render() -> Cached | None:
            response = self.get_response(request)
            rendered.append(response)
            if response.status_code != 200 or getattr(response, "streaming", False):
                return None
            headers = [(k, v) for k, v in response.items() if k.lower() not in NOT_REPLAYED]
            return response.status_code, response.content, headers

        # The one request that renders must get the full document, whatever it sent (else
        # the view answers 304 and a client that only revalidates never fills the cache).
        # request.headers is a cached view of META: drop it so the view reads the change.
        if_none_match = request.META.pop("HTTP_IF_NONE_MATCH", None)
        # And it renders as a cross-origin request: the copy is replayed to browsers too,
        # and django-cors-headers adds its headers (``*``, the same for every origin) only
        # when an Origin is sent.
        sent_origin = "HTTP_ORIGIN" in request.META
        request.META.setdefault("HTTP_ORIGIN", "null")
        request.__dict__.pop("headers", None)
        try:
            cached = localcache.get(("fastpath", request.path), render, ttl)
        finally:
            if if_none_match is not None:
                request.META["HTTP_IF_NONE_MATCH"] = if_none_match
            if not sent_origin:
                request.META.pop("HTTP_ORIGIN", None)
            request.__dict__.pop("headers", None)
        if cached is None:  # not cacheable (an error): answer what the chain said
            return rendered[0] if rendered else self.get_response(request)
        status, headers, body = replay(cached, if_none_match or "")
        response = HttpResponse(body, status=status)
        for name, value in headers:
            response[name] = value
        if status != 304:
            response["Content-Length"] = str(len(body))
        return response


class FastDocumentsApp:
    """WSGI wrapper: a live cached document is answered here, before Django runs."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        if (
            method in ("GET", "HEAD")
            and not environ.get("QUERY_STRING")
            and not environ.get("SCRIPT_NAME")
            and ttl_for(path) is not None
        ):
            cached = localcache.peek(("fastpath", path))
            if cached is not None:
                return self._answer(cached, environ, start_response, path)
        return self.app(environ, start_response)

    @staticmethod
    def _answer(cached: Cached, environ: dict, start_response: Callable, path: str):
        started = time.perf_counter()
        status, headers, body = replay(cached, environ.get("HTTP_IF_NONE_MATCH", ""))
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID", "")) or uuid.uuid4().hex
        if status == 304:  # RFC 9110 §15.4.5: no content, so no Content-Length of it
            start_response("304 Not Modified", [*headers, ("X-Request-ID", request_id)])
        else:
            length = ("Content-Length", str(len(body)))
            start_response("200 OK", [*headers, length, ("X-Request-ID", request_id)])
        metrics.observe_latency(metrics.endpoint_of(path), time.perf_counter() - started)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
