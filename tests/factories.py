"""Factories for the models tests need (no JSON fixtures)."""

from __future__ import annotations

import itertools

from authserver.models import Resource, ResourceAccess, Scope
from authserver.token_endpoint.grant_types import dot_grant_type
from clients.models import Client

_n = itertools.count(1)

MCP = "https://mcp.example.com/mcp"
OTHER_MCP = "https://other.example.com/mcp"


def make_resource(
    identifier: str = MCP,
    *,
    scopes: dict[str, str] | None = None,
    defaults: tuple[str, ...] = ("tools:read",),
    **fields,
) -> Resource:
    resource = Resource.objects.create(
        identifier=identifier, name=fields.pop("name", f"MCP server {next(_n)}"), **fields
    )
    for name, description in (
        scopes or {"tools:read": "Read your notes", "tools:write": "Change your notes"}
    ).items():
        Scope.objects.create(
            resource=resource,
            name=name,
            description=description,
            is_default=name in defaults,
            tools=[f"{name.split(':')[-1]}_note"],
        )
    return resource


def make_client(
    *,
    confidential: bool = True,
    grant_types: tuple[str, ...] = ("client_credentials",),
    access: dict[Resource, str] | None = None,
    redirect_uris: str = "",
    **fields,
) -> tuple[Client, str | None]:
    """A client and, for a confidential one, its plaintext secret."""
    client = Client(
        name=fields.pop("name", f"client {next(_n)}"),
        client_type=Client.CLIENT_CONFIDENTIAL if confidential else Client.CLIENT_PUBLIC,
        grant_types=list(grant_types),
        authorization_grant_type=dot_grant_type(grant_types),
        token_endpoint_auth_method=fields.pop(
            "token_endpoint_auth_method", "client_secret_basic" if confidential else "none"
        ),
        redirect_uris=redirect_uris,
        **fields,
    )
    secret = client.set_new_secret() if confidential else None
    client.save()
    for resource, scope in (access or {}).items():
        ResourceAccess.objects.create(client=client, resource=resource, scope=scope)
    return client, secret
