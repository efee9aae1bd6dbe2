"""RFC 8707 resource indicators as plain rules: the canonical form and what may be registered.

A resource is compared in a canonical form (lower-case scheme and host, no default port, a
lone ``/`` path dropped), as RFC 8707 §2 and the MCP authorization spec describe: the
TypeScript SDK sends ``new URL(resource).href`` (``https://mcp.example`` becomes
``https://mcp.example/``). Tokens carry the *registered* identifier as ``aud``, exactly the
string the MCP server publishes in its RFC 9728 metadata.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings

from authserver.errors import InvalidTarget
from authserver.loopback import is_loopback_host

MAX_LENGTH = 512
DEFAULT_PORTS = {"http": 80, "https": 443}


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
    path = "" if parts.path == "/" else parts.path
    query = f"?{parts.query}" if "?" in value else ""
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
