"""The resource registry: finding the one enabled MCP server a token request is bound to.

The rules for resource identifiers themselves are in authserver.protocol.resources.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Prefetch

from authserver.errors import InvalidTarget
from authserver.models import Resource, Scope
from authserver.protocol.resources import canonicalize, requested_resources
from authserver.protocol.scopes import OFFLINE_ACCESS


def _load_resource(canonical: str):
    return (
        Resource.objects.filter(canonical=canonical, enabled=True)
        .prefetch_related(Prefetch("scopes", queryset=Scope.objects.order_by("name")))
        .first()
    )


def find_resource(canonical: str):
    """The enabled registered resource with this canonical identifier, or InvalidTarget.

    Read from the database every time: a resource decides access, so it is never served from
    a time-limited cache (the token endpoint's own reads go through its generation-checked
    snapshot, token_endpoint.hotcache).
    """
    resource = _load_resource(canonical)
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
    if client is not None:
        allowed = list(Resource.objects.filter(access__client=client, enabled=True).distinct()[:2])
        if len(allowed) == 1:
            return allowed[0]
    configured = settings.CONFIG.default_resource
    if configured:
        return Resource.objects.filter(canonical=canonicalize(configured), enabled=True).first()
    return None


class ResourceScopes:
    """DOT's SCOPES_BACKEND_CLASS: the union of every enabled resource's scopes.

    DOT uses it for ``scopes_supported`` in metadata and for its scope checks; which scopes
    a token may carry is decided per resource by the functions above.
    """

    def get_all_scopes(self) -> dict[str, str]:
        scopes = {s.name: s.description for s in Scope.objects.filter(resource__enabled=True)}
        scopes[OFFLINE_ACCESS] = "Stay connected: refresh access without signing in again"
        return scopes

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        return sorted(self.get_all_scopes())

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return []
