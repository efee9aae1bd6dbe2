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

import os
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

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


class Document(NamedTuple):
    """A cached 200, with both of its answers prepared once (not per request)."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]
    etag: str | None
    # The 200's headers with its Content-Length, and the 304's: no Content-Type and no
    # Content-Length (RFC 9110 §15.4.5, no content).
    full_headers: list[tuple[str, str]]
    not_modified_headers: list[tuple[str, str]]


def document(status: int, body: bytes, headers: list[tuple[str, str]]) -> Document:
    etag = next((v for k, v in headers if k == "ETag"), None)
    return Document(
        status,
        body,
        headers,
        etag,
        [*headers, ("Content-Length", str(len(body)))],
        [(k, v) for k, v in headers if k.lower() != "content-type"],
    )


def not_modified(etag: str | None, if_none_match: str) -> bool:
    """RFC 9110 §13.1.2: the ETag, or ``*``, is among the If-None-Match tags, by the weak
    comparison (§8.8.3.2: ``W/`` ignored). A client revalidating sends back exactly the
    ETag it got: that needs no parsing."""
    if not etag or not if_none_match:
        return False
    if if_none_match == etag:
        return True
    opaque = etag.removeprefix("W/")
    return any(t == "*" or t.removeprefix("W/") == opaque for t in parse_etags(if_none_match))


def ttl_for(path: str) -> float | None:
    if path in TTL:
        return TTL[path]
    if path.startswith(DISCOVERY_PREFIXES) or path.endswith("/.well-known/openid-configuration"):
        return DISCOVERY_TTL
    return None


def replay(cached: Document, if_none_match: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status, headers (without Content-Length) and body to answer with; a 304 when the
    ETag matches (RFC 9110 §13.1.2)."""
    if not_modified(cached.etag, if_none_match):
        return 304, cached.not_modified_headers, b""
    return cached.status, cached.headers, cached.body


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

        def render() -> Document | None:
            response = self.get_response(request)
            rendered.append(response)
            if response.status_code != 200 or getattr(response, "streaming", False):
                return None
            headers = [(k, v) for k, v in response.items() if k.lower() not in NOT_REPLAYED]
            return document(response.status_code, response.content, headers)

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
    def _answer(cached: Document, environ: dict, start_response: Callable, path: str):
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID")
        # 128 random bits in hex, the form RequestIdMiddleware's uuid4().hex has, made
        # without building a UUID object.
        request_id = (incoming and request_id_from(incoming)) or os.urandom(16).hex()
        if not_modified(cached.etag, environ.get("HTTP_IF_NONE_MATCH", "")):
            start_response(
                "304 Not Modified", [*cached.not_modified_headers, ("X-Request-ID", request_id)]
            )
            body = b""
        else:
            start_response("200 OK", [*cached.full_headers, ("X-Request-ID", request_id)])
            body = cached.body
        metrics.observe_latency(metrics.endpoint_of(path), time.perf_counter() - started)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
