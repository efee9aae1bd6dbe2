"""RFC 8707 resource indicators: canonical form, the registry lookup, the omitted-resource rule.

A resource is compared in a canonical form (lower-case scheme and host, no default port, a
lone ``/`` path dropped), as RFC 8707 §2 and the MCP authorization spec describe: the
TypeScript SDK sends ``new URL(resource).href`` (``https://mcp.example`` becomes
``https://mcp.example/``). Tokens carry the *registered* identifier as ``aud``, exactly the
string the MCP server publishes in its RFC 9728 metadata.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings

from authserver.errors import InvalidTarget

MAX_LENGTH = 512
DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


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


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_registered_identifier(value: str) -> str:
    """What an admin may register: https, or http on loopback when ALLOW_HTTP_LOOPBACK_RESOURCES."""
    canonical = canonicalize(value)
    parts = urlsplit(canonical)
    if parts.scheme == "http" and not (
        settings.CONFIG.allow_http_loopback_resources and is_loopback(parts.hostname or "")
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


RESOURCE_CACHE_SECONDS = 5.0


def _load_resource(canonical: str):
    from django.db.models import Prefetch

    from authserver.models import Resource, Scope

    return (
        Resource.objects.filter(canonical=canonical, enabled=True)
        .prefetch_related(Prefetch("scopes", queryset=Scope.objects.order_by("name")))
        .first()
    )


def find_resource(canonical: str):
    """The enabled registered resource with this canonical identifier, or InvalidTarget.

    Cached per process for a few seconds with its scopes (authserver.localcache); saving a
    resource or scope clears the cache in this process at once.
    """
    from authserver import localcache

    resource = localcache.get(
        ("resources", canonical), lambda: _load_resource(canonical), RESOURCE_CACHE_SECONDS
    )
    if resource is None:
        raise InvalidTarget("unknown resource", detail=f"no enabled resource {canonical!r}")
    return resource


def resolve_resource(values, *, default=None):
    """Pick the one resource a token will be bound to.

    We issue a token for exactly one audience: several distinct resources are refused
    (RFC 8707 §2 lets the server refuse a combination it cannot serve). When the request
    names none, ``default`` decides (see :func:`default_resource_for_client`); with no
    default the answer is ``invalid_target``: never a token valid everywhere.
    """
    resources = requested_resources(values)
    if len(resources) > 1:
        raise InvalidTarget("request one resource per token")
    if resources:
        return find_resource(resources[0])
    if callable(default):  # computed only when the request names no resource
        default = default()
    if default is not None:
        return default
    raise InvalidTarget("the resource parameter is required (RFC 8707)")


def default_resource_for_client(client):
    """The documented rule for an omitted ``resource``:

    1. the client's single allowed resource (client credentials allowances), else
    2. the server-wide DEFAULT_RESOURCE, when configured, else
    3. none: the request fails with ``invalid_target``.
    """
    from authserver.models import Resource

    if client is not None:
        allowed = list(Resource.objects.filter(access__client=client, enabled=True).distinct()[:2])
        if len(allowed) == 1:
            return allowed[0]
    configured = settings.CONFIG.default_resource
    if configured:
        return Resource.objects.filter(canonical=canonicalize(configured), enabled=True).first()
    return None
