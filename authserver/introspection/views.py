"""``POST /introspect`` (RFC 7662) for MCP servers (thin: authenticate, look up, render)."""

from __future__ import annotations

from types import MappingProxyType

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

from authserver.errors import InvalidClient, OAuthError, TemporarilyUnavailable, writer
from authserver.introspection import service as introspection
from authserver.token_endpoint import client_auth, client_throttle, hotcache, params

MAX_ATTEMPTS = 3


@csrf_exempt
@never_cache
@sensitive_post_parameters("token", "client_secret")
def introspect(request: HttpRequest) -> HttpResponse:
    """RFC 7662 §2.1: POST, resource server authenticates with its own client credentials.

    The client and the resources it introspects for come from the per-process cache; the
    token lookup reads the cache generation too, and a stale cache means one more try. The
    last try reads them from the database instead, so configuration that keeps changing
    (clients registering) cannot starve introspection into 503s."""
    if request.method != "POST":
        return writer.method_not_allowed(["POST", "OPTIONS"])  # RFC 7662 §2.1: "HTTP POST"
    try:
        req = params.parse_request(request)
    except OAuthError:
        # Not a usable form: no token to look at; the credentials may still be in the header.
        req = params.TokenRequest(
            params=MappingProxyType({}),
            resources=(),
            authorization=request.META.get("HTTP_AUTHORIZATION", ""),
        )
    verified: set = set()  # a client assertion is spent once, not again on a retry
    for attempt in range(MAX_ATTEMPTS):
        last = attempt == MAX_ATTEMPTS - 1
        snap = hotcache.Snapshot(None) if last else hotcache.snapshot()  # None: uncached
        try:
            client, failure = introspecting_client(req, snap, verified)
        except client_throttle.SlowDown as exc:
            return writer.json_error(exc)
        if client is None:
            if not hotcache.is_current(snap):
                continue
            if failure is not None:  # the one path's audit and slow-down, as at /token
                client_auth.audit_failure(req, failure)
            return writer.json_error(InvalidClient("resource server authentication failed"))
        audiences = snap.get(
            ("introspects-for", client.pk),
            lambda client=client: frozenset(
                client.introspects_for.filter(enabled=True).values_list("identifier", flat=True)
            ),
        )
        generation, row = introspection.lookup(req.get("token") or "")
        if not req.get("token") or len(req.get("token")) > 8192:
            row = None  # RFC 7662 §2.2: simply inactive
        if snap.generation is not None and generation != snap.generation:
            hotcache.observe(generation)
            continue
        result = introspection.introspect_row(
            row, audiences=audiences, issuer=settings.ISSUER, now=timezone.now()
        )
        response = JsonResponse(result)
        response["Cache-Control"] = "no-store"
        return response
    return writer.json_error(TemporarilyUnavailable("configuration is changing; try again"))


def introspecting_client(req: params.TokenRequest, snap: hotcache.Snapshot, verified: set):
    """The confidential, active client that authenticated this request, or None with the
    failed authentication to audit (None when nothing was presented)."""
    try:
        client = client_auth.authenticate(req, snap, verified=verified)
    except client_throttle.SlowDown:
        raise
    except client_auth.FailedAuthentication as exc:
        return None, exc
    except OAuthError:
        return None, None
    return (None, None) if client.is_public else (client, None)
