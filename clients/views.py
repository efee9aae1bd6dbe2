"""RFC 7591 ``POST /register`` and RFC 7592 ``GET|PUT|DELETE /register/<client_id>``.

Thin DRF views: DRF parses (:class:`RegistrationJSONParser`, JSON only) and renders (JSON
only, whatever the client's ``Accept``); each handler calls one service. Every error is JSON
(RFC 7591 §3.2.2) written by ``authserver.errors.writer``, never DRF's or Django's own
bodies: a wrong content type, a body over ``MAX_BODY`` (read at most ``MAX_BODY + 1`` bytes,
so Django's own 2.5 MiB cap never answers with its HTML 400), malformed JSON and a
non-object body all get ``400 invalid_client_metadata``.
"""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from authserver.errors import InvalidClientMetadata, OAuthError, writer
from clients import modes, policy, services

MAX_BODY = 64 * 1024
NOT_JSON = "the request body is not valid JSON"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class RegistrationJSONParser(BaseParser):
    """RFC 7591 §3.1: ``application/json``, strict (no ``NaN``), at most ``MAX_BODY`` bytes.

    A ``BaseParser``, not DRF's ``JSONParser``: that one reads the whole body through
    ``request.body`` first, unbounded by our limit.
    """

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
        except ValueError:
            length = 0
        if length > MAX_BODY:
            raise InvalidClientMetadata(f"the request body is limited to {MAX_BODY} bytes")
        raw = stream.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise InvalidClientMetadata(f"the request body is limited to {MAX_BODY} bytes")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
            raise InvalidClientMetadata(NOT_JSON) from None


class JsonOnly(BaseContentNegotiation):
    """JSON whatever ``Accept`` says: an RFC 7591 client gets JSON, never a 406."""

    def select_parser(self, request, parsers):
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def read_json_body(request: Request):
    """The request's JSON document (RFC 7591 §3.1), parsed by DRF."""
    if request.content_type.split(";")[0].strip().lower() != "application/json":
        raise InvalidClientMetadata("the request must be application/json")
    if request.stream is None:  # DRF reads an empty body as {}; it is no JSON document
        raise InvalidClientMetadata(NOT_JSON)
    return request.data


def error_response(exc: OAuthError) -> HttpResponse:
    # The one writer: the challenge (InvalidToken) and Retry-After come from the error class.
    return writer.json_error(exc)


def _json(body: dict, status: int = 200) -> Response:
    # RFC 7591 §3.2.1: it carries secrets.
    return Response(
        body, status=status, headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


class JsonView(APIView):
    """CSRF does not apply (APIView exempts it): no cookies, credentials travel in headers.
    No DRF authentication, permissions or throttles: the services decide (RFC 7592 §2)."""

    parser_classes = [RegistrationJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnly
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def handle_exception(self, exc):
        if isinstance(exc, OAuthError):
            return error_response(exc)
        if isinstance(exc, exceptions.MethodNotAllowed):
            return writer.method_not_allowed([m.upper() for m in self._allowed_methods()])
        if isinstance(exc, exceptions.UnsupportedMediaType):
            return error_response(InvalidClientMetadata("the request must be application/json"))
        if isinstance(exc, exceptions.ParseError):
            return error_response(InvalidClientMetadata(NOT_JSON))
        return super().handle_exception(exc)

    def options(self, request, *args, **kwargs):
        """As Django's View: an ``Allow`` header, no body (preflights never get here:
        the CORS middleware answers them)."""
        response = HttpResponse()
        response["Allow"] = ", ".join(m.upper() for m in self._allowed_methods())
        response["Content-Length"] = "0"
        return response


class RegistrationView(JsonView):
    http_method_names = ["post", "options"]

    def post(self, request: Request) -> Response:
        modes.require_dynamic_registration()  # REGISTRATION_MODE: 403 saying what to do
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

    def get(self, request: Request, client_id: str) -> Response:
        client = services.authenticate_registration(client_id, policy.bearer_token(request))
        return _json(services.client_information(client))  # RFC 7592 §2.1

    def put(self, request: Request, client_id: str) -> Response:
        token = policy.bearer_token(request)
        services.authenticate_registration(client_id, token)  # 401 before reading the body
        updated = services.update_client(client_id, token, read_json_body(request))
        # RFC 7592 §3: the new registration access token; the old one no longer works.
        body = services.client_information(
            updated.client, registration_access_token=updated.registration_access_token
        )
        return _json(body)  # RFC 7592 §2.2

    def delete(self, request: Request, client_id: str) -> HttpResponse:
        services.delete_client(client_id, policy.bearer_token(request))
        return HttpResponse(status=204)  # RFC 7592 §2.3
