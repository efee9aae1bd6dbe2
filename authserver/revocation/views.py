"""Revocation and introspection endpoints (thin: parse, call one service, render).

The token endpoint is authserver.token_endpoint."""

from __future__ import annotations

from types import MappingProxyType

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.views import RevokeTokenView as DOTRevokeTokenView
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from authserver.errors import (
    InvalidClient,
    OAuthError,
    TemporarilyUnavailable,
    from_oauthlib,
    writer,
)
from authserver.introspection import service as introspection
from authserver.token_endpoint import client_auth, hotcache, params

MAX_ATTEMPTS = 3


class RevokeView(DOTRevokeTokenView):
    """DOT's RFC 7009 endpoint (its validator and oauthlib's request checks), with errors
    written by authserver.errors.writer rather than rendered by oauthlib."""

    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # oauthlib's RevocationEndpoint.create_revocation_response, minus its error body.
        core = self.get_oauthlib_core()
        server = core.server
        uri, method, body, headers = core._extract_params(request)
        revocation = OAuthlibRequest(uri, http_method=method, body=body, headers=headers)
        try:
            server.validate_revocation_request(revocation)
        except OAuth2Error as error:
            return writer.json_error(from_oauthlib(error))  # RFC 7009 §2.2.1
        server.request_validator.revoke_token(
            revocation.token, revocation.token_type_hint, revocation
        )
        # RFC 7009 §2.2: 200 whether or not the token was known; the body is ignored.
        response = HttpResponse(status=200, content_type="application/json")
        response["Cache-Control"] = "no-store"
        return response

    def http_method_not_allowed(self, request, *args, **kwargs) -> HttpResponse:
        return writer.method_not_allowed(["POST", "OPTIONS"])


@csrf_exempt
@never_cache
@sensitive_post_parameters("token", "client_secret")
def introspect(request: HttpRequest) -> HttpResponse:
    """RFC 7662 §2.1: POST, resource server authenticates with its own client credentials.

    The client and the resources it introspects for come from the per-process cache; the
    token lookup reads the cache generation too, and a stale cache means one more try."""
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
    for _attempt in range(MAX_ATTEMPTS):
        snap = hotcache.snapshot()
        client = introspecting_client(req, snap, verified)
        if client is None:
            if not hotcache.is_current(snap):
                continue
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
    """The confidential, active client that authenticated this request, or None."""
    try:
        client = client_auth.authenticate(req, snap, verified=verified)
    except OAuthError:
        return None
    return None if client.is_public else client
