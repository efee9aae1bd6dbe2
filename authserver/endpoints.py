"""Token and introspection endpoints (thin: parse, call one service, render)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from oauth2_provider.views import RevokeTokenView as DOTRevokeTokenView
from oauth2_provider.views import TokenView as DOTTokenView

from authserver import dpop, introspection
from authserver.errors import InvalidClient, to_response
from clients.auth import authenticate_confidential_client

BASIC_CHALLENGE = 'Basic realm="{realm}", charset="UTF-8"'


def basic_challenge() -> str:
    return BASIC_CHALLENGE.format(realm=settings.ISSUER)


@method_decorator(
    sensitive_post_parameters("client_secret", "code", "code_verifier", "refresh_token"),
    name="post",
)
class TokenView(DOTTokenView):
    """DOT's token endpoint, without its per-token lookup for a signal we do not use."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        _url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status, content_type="application/json")
        for name, value in headers.items():
            response[name] = value
        if status == 401:
            # RFC 6749 §5.2: the challenge matches the scheme clients authenticate with.
            response["WWW-Authenticate"] = basic_challenge()
        if settings.CONFIG.dpop_nonce_required:
            response["DPoP-Nonce"] = dpop.current_nonce()  # RFC 9449 §8
        response["Cache-Control"] = "no-store"
        return response


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
