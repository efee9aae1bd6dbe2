"""RFC 8707 resource indicators as plain rules: the canonical form and what may be registered.

Which requests name the same MCP server (RFC 3986 §6.2.2 syntax-based normalisation, plus
one MCP-specific rule): the scheme and host compare case-insensitively, a default port
equals no port, ``%7e`` equals ``~`` and ``%2f`` equals ``%2F`` (§6.2.2.1-6.2.2.2), an empty
path equals ``/`` (§6.2.3: the TypeScript SDK sends ``new URL(resource).href``, so
``https://mcp.example`` arrives as ``https://mcp.example/``), and one trailing ``/`` after a
non-empty path is ignored (Claude Code has appended one: ``https://h/mcp/`` for
``https://h/mcp``). The path is otherwise case-sensitive and the query exact. So two MCP
servers cannot be registered at ``/mcp`` and ``/mcp/``; docs/clients.md says why.

Matching is for finding the server only: tokens carry the *registered* identifier as
``aud``, exactly the string the MCP server publishes in its RFC 9728 metadata and checks,
whatever spelling the client sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings

from authserver.errors import InvalidTarget
from authserver.loopback import is_loopback_host

MAX_LENGTH = 512
DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
# RFC 3986 §2.3 unreserved characters: percent-encoding them changes nothing (§6.2.2.2).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normalise_percent(text: str) -> str:
    """RFC 3986 §6.2.2.1 upper-case hex digits; §6.2.2.2 decode unreserved characters."""

    def one(match: re.Match) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _PERCENT.sub(one, text)


def canonicalize(value: str) -> str:
    """The canonical form of a resource URI; raises InvalidTarget for anything else."""
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH:
        raise InvalidTarget("resource must be an absolute URI of at most 512 characters")
    if any(ch.isspace() or ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        raise InvalidTarget("resource must not contain spaces or control characters")
    # RFC 8707 §2: "MUST NOT include a fragment component", even an empty one.
    if "#" in value:
        raise InvalidTarget("resource must not include a fragment")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidTarget("resource is not a valid URI") from None
    scheme = parts.scheme.lower()
    # RFC 8707 §2: "MUST be an absolute URI"; MCP servers are reached over http(s).
    if scheme not in DEFAULT_PORTS or not parts.netloc or not parts.hostname:
        raise InvalidTarget("resource must be an absolute https URI")
    if "@" in parts.netloc:
        raise InvalidTarget("resource must not include user information")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _normalise_percent(parts.path)
    # RFC 3986 §6.2.3: "/" is the empty path; and one trailing "/" is the same MCP server
    # ("//" is left alone: an empty last segment is deliberate, and the form stays stable).
    if path.endswith("/") and not path.endswith("//"):
        path = path[:-1]
    query = f"?{_normalise_percent(parts.query)}" if "?" in value else ""
    return f"{scheme}://{netloc}{path}{query}"


def validate_registered_identifier(value: str) -> str:
    """What an admin may register: https, or http on loopback when ALLOW_HTTP_LOOPBACK_RESOURCES."""
    canonical = canonicalize(value)
    parts = urlsplit(canonical)
    if parts.scheme == "http" and not (
        settings.CONFIG.allow_http_loopback_resources and is_loopback_host(parts.hostname)
    ):
        raise InvalidTarget(
            "resource must use https (http only on loopback with ALLOW_HTTP_LOOPBACK_RESOURCES)"
        )
    return canonical


def requested_resources(values: Iterable[str] | str | None) -> list[str]:
    """The distinct canonical resources of a request (RFC 8707 §2 allows repeats)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    canonical: list[str] = []
    for value in values:
        c = canonicalize(value)
        if c not in canonical:
            canonical.append(c)
    return canonical
