"""SCIM error responses (RFC 7644 §3.12), and the DRF exception handler that produces them."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.response import Response

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def invalid_syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")


def invalid_value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def invalid_path(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidPath")


def not_found(kind: str) -> ScimError:
    return ScimError(404, f"{kind} not found")


def body(status: int, detail: str, scim_type: str | None = None) -> dict:
    # RFC 7644 §3.12: "status" is a string; scimType only for the 400/409 codes it defines.
    payload = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        payload["scimType"] = scim_type
    return payload


def exception_handler(exc, context) -> Response | None:
    if isinstance(exc, ScimError):
        return Response(body(exc.status, exc.detail, exc.scim_type), status=exc.status)
    if isinstance(exc, exceptions.ParseError):
        return Response(body(400, "malformed JSON", "invalidSyntax"), status=400)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response = Response(body(401, "a valid SCIM bearer token is required"), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="scim"'
        return response
    if isinstance(exc, exceptions.APIException):
        status = exc.status_code
        return Response(body(status, str(exc.detail)), status=status)
    return None  # a bug: Django's 500 (no detail leaks)
