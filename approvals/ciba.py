"""OpenID Connect CIBA Core 1.0: the error codes and the backchannel request's parameters.

Pure rules: plain values in, a checked ``BackchannelRequest`` out, or one of the errors below
(§13 for the backchannel endpoint, §11 for the token endpoint). No storage here.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from authserver.errors import InvalidRequest, OAuthError
from authserver.protocol.metadata import origin
from mcp_token_verifier import approvals as calls

GRANT_TYPE = "urn:openid:params:grant-type:ciba"  # CIBA Core §10.1
DELIVERY_MODES = ("poll", "ping")  # push is not offered (it is deprecated in FAPI-CIBA)
MAX_BINDING_MESSAGE = 100
MAX_SUMMARY = 500
MAX_ARGUMENTS = 16_384  # characters of canonical JSON
MAX_NOTIFICATION_TOKEN = 1024
MAX_REQUESTED_EXPIRY = 600


class UnknownUserId(OAuthError):
    error, status = "unknown_user_id", 400  # CIBA Core §13


class InvalidBindingMessage(OAuthError):
    error, status = "invalid_binding_message", 400  # CIBA Core §13


class PollAnswer(OAuthError):
    """A refusal of a CIBA poll, read from the request's own row (never the token endpoint's
    cache) after recording the poll: the pipeline must not decide it again."""

    decided_on_current_rows = True


class AuthorizationPending(PollAnswer):
    error, status = "authorization_pending", 400  # CIBA Core §11


class SlowDown(PollAnswer):
    error, status = "slow_down", 400  # CIBA Core §11


class ExpiredToken(PollAnswer):
    error, status = "expired_token", 400  # CIBA Core §11


class AccessDenied(PollAnswer):
    error, status = "access_denied", 400  # CIBA Core §11 (and §13 at the endpoint, 403)


@dataclass(frozen=True)
class BackchannelRequest:
    login_hint: str
    login_hint_token: str
    resource: str
    tool: str
    arguments: dict
    arguments_digest: str
    summary: str
    binding_message: str
    notification_token: str
    requested_expiry: int | None


def text_ok(value: str, limit: int) -> bool:
    """Printable text a person reads: no control or format characters (no bidi tricks)."""
    return len(value) <= limit and all(unicodedata.category(c)[0] != "C" or c == " " for c in value)


def parse(get) -> BackchannelRequest:
    """CIBA Core §7.1, with RFC 9396 ``authorization_details`` of type ``mcp_tool``.

    ``get(name)`` returns a single parameter value or None (repeats were refused already)."""
    login_hint, hint_token = get("login_hint") or "", get("login_hint_token") or ""
    if get("id_token_hint"):
        raise InvalidRequest("id_token_hint is not supported; use login_hint or login_hint_token")
    # §7.1: "exactly one" hint.
    if bool(login_hint) == bool(hint_token):
        raise InvalidRequest("send exactly one of login_hint and login_hint_token")
    binding = get("binding_message") or ""
    if not text_ok(binding, MAX_BINDING_MESSAGE):
        raise InvalidBindingMessage(
            f"binding_message is printable text of at most {MAX_BINDING_MESSAGE} characters"
        )
    detail = one_detail(get("authorization_details"))
    expiry = get("requested_expiry")
    requested = None
    if expiry is not None:
        if not expiry.isascii() or not expiry.isdigit() or not 0 < int(expiry) <= 10**6:
            raise InvalidRequest("requested_expiry is a positive integer")  # §7.1
        requested = min(int(expiry), MAX_REQUESTED_EXPIRY)
    token = get("client_notification_token") or ""
    if len(token) > MAX_NOTIFICATION_TOKEN or not token.isascii():
        raise InvalidRequest("client_notification_token is too long")
    return BackchannelRequest(
        login_hint=login_hint,
        login_hint_token=hint_token,
        notification_token=token,
        binding_message=binding,
        requested_expiry=requested,
        **detail,
    )


def one_detail(raw: str | None) -> dict:
    """The one ``mcp_tool`` object: one MCP server, one tool, its arguments and their digest
    (RFC 8785 JCS, SHA-256, base64url), a summary for the person."""
    if not raw:
        raise InvalidRequest("authorization_details of type mcp_tool is required")
    try:
        details = json.loads(raw)
    except ValueError:
        raise InvalidRequest("authorization_details is not JSON") from None
    if not isinstance(details, list) or len(details) != 1 or not isinstance(details[0], dict):
        raise InvalidRequest("authorization_details holds exactly one mcp_tool object")
    d = details[0]
    if d.get("type") != calls.TYPE:
        raise InvalidRequest(f"authorization_details type must be {calls.TYPE}")
    locations, actions = d.get("locations"), d.get("actions")
    if not (isinstance(locations, list) and len(locations) == 1 and isinstance(locations[0], str)):
        raise InvalidRequest("locations names exactly one MCP server")
    if not (
        isinstance(actions, list)
        and len(actions) == 1
        and isinstance(actions[0], str)
        and 0 < len(actions[0]) <= 128
    ):
        raise InvalidRequest("actions names exactly one tool")
    arguments, digest = d.get("arguments"), d.get("arguments_digest")
    if not isinstance(arguments, dict) or not isinstance(digest, str):
        raise InvalidRequest("arguments (an object) and arguments_digest are required")
    try:
        canonical = calls.canonical_json(arguments)
    except calls.NotCanonicalizable as exc:
        raise InvalidRequest(f"arguments cannot be canonicalized (RFC 8785): {exc}") from None
    if len(canonical) > MAX_ARGUMENTS:
        raise InvalidRequest("arguments are too large")
    if calls.arguments_digest(arguments) != digest:
        raise InvalidRequest("arguments_digest is not the RFC 8785 SHA-256 of the arguments")
    summary = d.get("summary")
    if not isinstance(summary, str) or not summary.strip() or not text_ok(summary, MAX_SUMMARY):
        raise InvalidRequest(f"summary is printable text of 1 to {MAX_SUMMARY} characters")
    return {
        "resource": locations[0],
        "tool": actions[0],
        "arguments": arguments,
        "arguments_digest": digest,
        "summary": summary,
    }


def metadata() -> dict:
    """CIBA Core §4 members of the RFC 8414 document."""
    return {
        "backchannel_authentication_endpoint": origin(settings.ISSUER)
        + reverse("approvals:backchannel"),
        "backchannel_token_delivery_modes_supported": list(DELIVERY_MODES),
        "backchannel_user_code_parameter_supported": False,
    }
