"""RFC 7591 ``POST /register`` and RFC 7592 ``GET|PUT|DELETE /register/<client_id>``.

Thin: read the JSON body, call one service, render. Every error is JSON (RFC 7591
§3.2.2), never HTML: a wrong content type, a body over ``MAX_BODY`` (checked before
Django's own 2.5 MiB cap could answer with its HTML 400), malformed JSON and a non-object
body all get ``400 invalid_client_metadata``.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from authserver.errors import InvalidClientMetadata, OAuthError, writer
from clients import policy, services

MAX_BODY = 64 * 1024


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def read_json_body(request: HttpRequest):
    """The request's JSON document (RFC 7591 §3.1: ``application/json``), size-capped."""
    if request.content_type != "application/json":
        raise InvalidClientMetadata("the request must be application/json")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise InvalidClientMetadata(f"the request body is limited to {MAX_BODY} bytes")
    raw = request.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise InvalidClientMetadata(f"the request body is limited to {MAX_BODY} bytes")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        raise InvalidClientMetadata("the request body is not valid JSON") from None


def error_response(exc: OAuthError) -> HttpResponse:
    # The one writer: the challenge (InvalidToken) and Retry-After come from the error class.
    return writer.json_error(exc)


def _json(body: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"  # RFC 7591 §3.2.1: it carries secrets
    response["Pragma"] = "no-cache"
    return response


@method_decorator(csrf_exempt, name="dispatch")
class JsonView(View):
    """CSRF does not apply: no cookies are used, credentials travel in headers."""

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except OAuthError as exc:
            return error_response(exc)

    def http_method_not_allowed(self, request, *args, **kwargs):
        return writer.method_not_allowed([m.upper() for m in self._allowed_methods()])


class RegistrationView(JsonView):
    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest) -> HttpResponse:
        now = timezone.now()
        ip = policy.client_ip(request)
        policy.check_rate_limit(ip, now=now.timestamp())
        data = read_json_body(request)
        result = services.register_client(data, ip=ip, bearer=policy.bearer_token(request), now=now)
        body = services.client_information(
            result.client,
            client_secret=result.client_secret,
            registration_access_token=result.registration_access_token,
        )
        return _json(body, status=201)  # RFC 7591 §3.2.1


class RegistrationManagementView(JsonView):
    http_method_names = ["get", "put", "delete", "options"]

    def get(self, request: HttpRequest, client_id: str) -> HttpResponse:
        client = services.authenticate_registration(client_id, policy.bearer_token(request))
        return _json(services.client_information(client))  # RFC 7592 §2.1

    def put(self, request: HttpRequest, client_id: str) -> HttpResponse:
        token = policy.bearer_token(request)
        services.authenticate_registration(client_id, token)  # 401 before reading the body
        updated = services.update_client(client_id, token, read_json_body(request))
        # RFC 7592 §3: the new registration access token; the old one no longer works.
        body = services.client_information(
            updated.client, registration_access_token=updated.registration_access_token
        )
        return _json(body)  # RFC 7592 §2.2

    def delete(self, request: HttpRequest, client_id: str) -> HttpResponse:
        services.delete_client(client_id, policy.bearer_token(request))
        return HttpResponse(status=204)  # RFC 7592 §2.3
