"""Scopes (RFC 6749 §3.3): parsing, and what each grant may carry.

Scopes are defined per resource (MCP server). ``offline_access`` is the one server-wide
scope: it asks for a refresh token. The scope a client *registered* is recorded but is no
ceiling: MCP clients register once and step up later under the same client_id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from authserver.errors import InvalidScope

OFFLINE_ACCESS = "offline_access"
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")
MAX_SCOPES = 50


def is_scope_token(value: str) -> bool:
    return bool(_SCOPE_TOKEN.fullmatch(value)) and len(value) <= 64


def parse_scope(value: str | Iterable[str] | None) -> list[str]:
    """Distinct scope tokens in request order; InvalidScope for a malformed one."""
    if value is None:
        return []
    items = value.split(" ") if isinstance(value, str) else list(value)
    result: list[str] = []
    for item in items:
        if item == "":
            continue
        if not is_scope_token(item):
            raise InvalidScope("malformed scope (RFC 6749 §3.3)")
        if item not in result:
            result.append(item)
    if len(result) > MAX_SCOPES:
        raise InvalidScope("too many scopes")
    return result


def resource_scopes(resource) -> dict[str, object]:
    return {s.name: s for s in resource.scopes.all()}


def for_authorization(requested: list[str], resource) -> list[str]:
    """What an authorization request may ask the user for.

    RFC 6749 §3.3: the server may grant less than requested. Scopes the resource does not
    define are dropped (MCP clients send fixed lists); if none of the resource's scopes
    remain, its default scopes are used. ``offline_access`` stays when requested and the
    resource issues refresh tokens.
    """
    defined = resource_scopes(resource)
    granted = [s for s in requested if s in defined]
    if not granted:
        granted = [name for name, scope in defined.items() if scope.is_default]
    granted = with_implied(granted, defined)
    if OFFLINE_ACCESS in requested and resource.issue_refresh_tokens:
        granted.append(OFFLINE_ACCESS)
    return granted


def with_implied(names: list[str], defined: dict[str, object]) -> list[str]:
    """MCP scope hierarchies (2026-07-28, SEP-2350): each scope with the scopes the admin says
    it implies (``Scope.implies``), transitively, in order, each once (cycles end).

    Applied where a user consents (:func:`for_authorization`), so the consent screen shows
    and the token carries everything granted, and a step-up to a broader scope subsumes the
    narrower one. Never on refresh: a refresh token carries the scope granted at consent
    (:func:`narrow`), so an implication added later widens nothing without a new consent.
    """
    result: list[str] = []
    pending = list(names)
    while pending:
        name = pending.pop(0)
        if name in result or name not in defined:
            continue
        result.append(name)
        implied = getattr(defined[name], "implies", None) or []
        pending.extend(n for n in implied if isinstance(n, str))
    return result


def narrow(requested: list[str], granted: list[str]) -> list[str]:
    """A token request may narrow what was granted, never widen it (RFC 6749 §6, §3.3)."""
    if not requested:
        return list(granted)
    beyond = [s for s in requested if s not in granted]
    if beyond:
        raise InvalidScope(
            "scope exceeds what was granted or allowed", detail=f"beyond grant: {' '.join(beyond)}"
        )
    return list(requested)


def for_client_credentials(requested: list[str], resource, allowed: list[str]) -> list[str]:
    """Client credentials: within what an admin allowed this client for this resource.

    With no scope requested, the resource's default scopes the client is allowed, or, when
    none of the defaults are allowed, everything it is allowed.
    """
    if OFFLINE_ACCESS in requested:
        raise InvalidScope("offline_access needs a user; client credentials have none")
    if requested:
        return narrow(requested, allowed)
    defaults = [name for name, s in resource_scopes(resource).items() if s.is_default]
    return [s for s in allowed if s in defaults] or list(allowed)
