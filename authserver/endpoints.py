"""Revocation and introspection endpoints (thin: parse, call one service, render).

The token endpoint is authserver.token_endpoint."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from oauth2_provider.views import RevokeTokenView as DOTRevokeTokenView

from authserver import introspection
from authserver.errors import InvalidClient, to_response
from clients.auth import authenticate_confidential_client

BASIC_CHALLENGE = 'Basic realm="{realm}", charset="UTF-8"'


def basic_challenge() -> str:
    return BASIC_CHALLENGE.format(realm=settings.ISSUER)


class RevokeView(DOTRevokeTokenView):
    """DOT's RFC 7009 endpoint; a 401 challenges with the scheme clients use (Basic)."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if response.status_code == 401:
            response["WWW-Authenticate"] = basic_challenge()
        if not response.content:
            response["Content-Type"] = "application/json"
        response["Cache-Control"] = "no-store"
        return response


@csrf_exempt
@never_cache
@require_POST
@sensitive_post_parameters("token", "client_secret")
def introspect(request: HttpRequest) -> HttpResponse:
    """RFC 7662 §2.1: POST, resource server authenticates with its own client credentials."""
    client = authenticate_confidential_client(request)
    if client is None:
        return to_response(
            InvalidClient("resource server authentication failed"),
            www_authenticate=basic_challenge(),
        )
    audiences = set(
        client.introspects_for.filter(enabled=True).values_list("identifier", flat=True)
    )
    result = introspection.introspect(
        request.POST.get("token", ""), audiences=audiences, issuer=settings.ISSUER
    )
    response = JsonResponse(result)
    response["Cache-Control"] = "no-store"
    return response
