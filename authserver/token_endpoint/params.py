"""Parsing a token request body: one value per parameter, a size cap, the headers we read."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, unquote_plus

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from authserver.errors import InvalidRequest, OAuthError, writer

MAX_BODY_BYTES = 64 * 1024  # a token request is a few hundred bytes; DPoP proofs are headers
# RFC 8707 §2: "resource" may be repeated; every other parameter may not (RFC 6749 §3.2).
REPEATABLE = frozenset({"resource"})
# RFC 6749 Appendix A: no parameter's syntax admits a control character (NUL, which
# PostgreSQL cannot store, included); JSON values (RFC 9396 authorization_details) may hold
# tab, CR and LF as whitespace, so those three pass here.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# RFC 6749 Appendix A.1: client-id = *VSCHAR, VSCHAR = %x20-7E.
_VSCHAR = re.compile(r"[\x20-\x7e]+")


class PayloadTooLarge(OAuthError):
    error, status = "invalid_request", 413  # RFC 9110 §15.5.14


@dataclass(frozen=True)
class TokenRequest:
    """What the pipeline reads from one HTTP request; nothing else is consulted."""

    params: MappingProxyType
    resources: tuple[str, ...]
    authorization: str = ""
    dpop_proof: str = ""
    dpop_jkt: str = ""  # the proof's key thumbprint, once the proof was checked
    ip: str | None = None
    extras: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def get(self, name: str) -> str | None:
        return self.params.get(name)


def parse_form(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the body must be UTF-8 application/x-www-form-urlencoded") from None


def is_client_id(value: object) -> bool:
    """RFC 6749 Appendix A.1: a client_id is one or more VSCHAR (printable ASCII)."""
    return isinstance(value, str) and _VSCHAR.fullmatch(value) is not None


def check_parameter(name: str, value: str) -> None:
    """RFC 6749 §5.2 invalid_request for a value no parameter syntax allows (Appendix A),
    before it reaches a lookup (a NUL is a 500 from PostgreSQL) or a log."""
    if _CONTROL.search(name):
        raise InvalidRequest("a parameter name contains a control character")
    if _CONTROL.search(value):
        raise InvalidRequest(f"parameter {name[:40]} contains a control character")
    if name == "client_id" and value and not is_client_id(value):
        raise InvalidRequest("client_id is not a client identifier (RFC 6749 Appendix A.1)")


def check_basic_credentials(authorization: str) -> None:
    """RFC 6749 §2.3.1: the Basic credentials are a form-encoded client_id and secret; the
    same syntax rules as in the body apply. Undecodable values are left to client
    authentication, which refuses them with invalid_client."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return
    client_id, _, secret = decoded.partition(":")
    check_parameter("client_id", unquote_plus(client_id))
    check_parameter("client_secret", unquote_plus(secret))


def single_values(pairs) -> tuple[dict[str, str], tuple[str, ...]]:
    """RFC 6749 §3.2: parameters "MUST NOT be included more than once"; §3.1: parameters
    sent without a value are treated as omitted."""
    params: dict[str, str] = {}
    resources: list[str] = []
    for name, value in pairs:
        check_parameter(name, value)
        if value == "":
            continue
        if name in REPEATABLE:
            resources.append(value)
        elif name in params:
            raise InvalidRequest(f"parameter {name[:40]} is repeated")
        else:
            params[name] = value
    return params, tuple(resources)


def read_body(request: HttpRequest) -> bytes:
    """The raw body, refused with JSON when it is larger than a token request can be."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidRequest("invalid Content-Length") from None
    if length > MAX_BODY_BYTES:
        raise PayloadTooLarge("the request body is too large")
    try:
        body = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge("the request body is too large") from None
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge("the request body is too large")
    return body


def form_pairs(request: HttpRequest) -> list[tuple[str, str]]:
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    body = read_body(request)
    # RFC 6749 §4.1.3, §4.4.2, §6: "application/x-www-form-urlencoded" in the entity-body.
    if content_type == "application/x-www-form-urlencoded":
        return parse_form(body)
    if content_type == "multipart/form-data":  # accepted, as DOT did; never files
        try:
            return [(k, v) for k, values in request.POST.lists() for v in values]
        except Exception:
            raise InvalidRequest("malformed multipart body") from None
    raise InvalidRequest("the body must be application/x-www-form-urlencoded")


def parse_request(request: HttpRequest) -> TokenRequest:
    params, resources = single_values(form_pairs(request))
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    check_basic_credentials(authorization)
    return TokenRequest(
        params=MappingProxyType(params),
        resources=resources,
        authorization=authorization,
        dpop_proof=request.META.get("HTTP_DPOP", ""),
        ip=request.META.get("REMOTE_ADDR"),
    )


def repeated_parameter(query) -> str | None:
    """The first parameter of a QueryDict given more than once (``resource`` aside)."""
    for name, values in query.lists():
        if len(values) > 1 and name not in REPEATABLE:
            return name
    return None


def refuse_malformed_authorization_parameters(request: HttpRequest):
    """RFC 6749 §3.1: authorization request parameters "MUST NOT be included more than
    once"; Appendix A: none admits a control character, a client_id is VSCHARs. Refused on
    the error page, never redirected: with a repeated or malformed client_id or redirect_uri
    there is no single redirect URI to trust."""
    repeated = repeated_parameter(request.GET)
    if repeated is not None:
        return writer.error_page(request, InvalidRequest(f"parameter {repeated[:40]} is repeated"))
    try:
        for name, values in request.GET.lists():
            for value in values:
                check_parameter(name, value)
    except InvalidRequest as exc:
        return writer.error_page(request, exc)
    return None
