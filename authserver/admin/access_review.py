"""The access review: what a person's agents can reach right now, and who can call a tool.

Read-only queries that answer an operator's two questions in one page each:

* for a person, every agent (client) that holds a consent, a live grant (refresh token) or a
  live access token, for which MCP server, with which scopes and tools, the upstream
  connections it may use there (connection policies), and when it was last used;
* for an MCP server and one of its tools, every person and agent that holds a live token or
  grant able to call it.

Cutting access off is not done here: the views call the revocation services
(authserver.revocation.service, authserver.authorization.consent.withdraw,
connections.services.disconnect).
Nothing secret is read: token rows give ids, scopes, dates and ``authorization_details``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db.models import Q

from accounts.models import Consent
from authserver.models import AccessToken, RefreshToken, Resource
from authserver.tool_grants.details import registered_tools
from connections.models import Connection, ConnectionPolicy


@dataclass
class AgentAccess:
    """One agent's reach at one MCP server on behalf of one person."""

    user_id: int
    username: str
    client_pk: int
    client_id: str
    client_name: str
    resource_pk: int | None
    resource: str  # the MCP server's identifier (RFC 8707)
    resource_name: str
    scopes: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    consented: bool = False
    live_grants: int = 0  # live refresh tokens
    live_tokens: int = 0  # live access tokens
    connections: list[str] = field(default_factory=list)  # upstream providers it may use
    last_used: datetime | None = None

    def as_dict(self) -> dict:
        row = asdict(self)
        row["last_used"] = self.last_used.isoformat() if self.last_used else None
        return row


def _tools_of(details) -> set[str]:
    """The tool names an RFC 9396 ``authorization_details`` value (type mcp_tool) carries."""
    tools: set[str] = set()
    for detail in details or []:
        if isinstance(detail, dict) and isinstance(detail.get("actions"), list):
            tools.update(str(action) for action in detail["actions"])
    return tools


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((d for d in (a, b) if d is not None), default=None)


def person(user, *, now: datetime) -> list[AgentAccess]:
    """Every (agent, MCP server) through which ``user``'s agents can reach something now."""
    consented = list(Consent.objects.filter(user=user).select_related("client", "resource"))
    live_refresh = list(
        RefreshToken.objects.filter(user=user, revoked__isnull=True).select_related(
            "application", "access_token"
        )
    )
    live_access = list(
        AccessToken.objects.filter(
            user=user, revoked_at__isnull=True, expires__gt=now
        ).select_related("application")
    )
    # Only the MCP servers this person's agents reach, with their scopes (ten thousand
    # servers with fifty tools each are not read for one person's page).
    reached = {c.resource.identifier for c in consented}
    for token in (*live_refresh, *live_access):
        reached.update(token.resource or [])
    resources = {
        r.identifier: r
        for r in Resource.objects.filter(identifier__in=reached).prefetch_related("scopes")
    }
    rows: dict[tuple[int, str], AgentAccess] = {}
    declined: dict[tuple[int, str], set[str]] = {}
    token_tools: dict[tuple[int, str], set[str]] = defaultdict(set)

    def row(client, identifier: str) -> AgentAccess:
        key = (client.pk, identifier)
        if key not in rows:
            resource = resources.get(identifier)
            rows[key] = AgentAccess(
                user_id=user.pk,
                username=user.get_username(),
                client_pk=client.pk,
                client_id=client.client_id,
                client_name=client.name,
                resource_pk=resource.pk if resource else None,
                resource=identifier,
                resource_name=resource.name if resource else identifier,
            )
        return rows[key]

    for consent in consented:
        entry = row(consent.client, consent.resource.identifier)
        entry.consented = True
        entry.scopes = sorted(set(entry.scopes) | set(consent.scopes))
        entry.last_used = _later(entry.last_used, consent.updated_at)
        declined[(consent.client_id, consent.resource.identifier)] = set(consent.declined_tools)

    for refresh in live_refresh:
        for identifier in refresh.resource or [""]:
            entry = row(refresh.application, identifier)
            entry.live_grants += 1
            entry.last_used = _later(entry.last_used, refresh.last_used_at or refresh.created)
            if refresh.access_token is not None:
                entry.scopes = sorted(set(entry.scopes) | set(refresh.access_token.scope.split()))
                details = refresh.access_token.authorization_details
                token_tools[(refresh.application_id, identifier)] |= _tools_of(details)

    for token in live_access:
        for identifier in token.resource or [""]:
            entry = row(token.application, identifier)
            entry.live_tokens += 1
            entry.scopes = sorted(set(entry.scopes) | set(token.scope.split()))
            entry.last_used = _later(entry.last_used, token.created)
            token_tools[(token.application_id, identifier)] |= _tools_of(
                token.authorization_details
            )

    _add_tools(rows, resources, token_tools, declined)
    _add_connections(user, rows)
    return sorted(rows.values(), key=lambda r: (r.client_name.lower(), r.resource))


def _add_tools(rows, resources, token_tools, declined) -> None:
    """Tools as the tokens carry them; where none carries any, those the scopes unlock less
    the ones the person unticked (what the next token would get before the admin's policy)."""
    for (client_pk, identifier), entry in rows.items():
        carried = token_tools.get((client_pk, identifier))
        resource = resources.get(identifier)
        if carried:
            entry.tools = sorted(carried)
        elif resource is not None:
            unlocked = registered_tools(resource, set(entry.scopes))
            gone = declined.get((client_pk, identifier), set())
            entry.tools = sorted(t for t, owners in unlocked.items() if owners and t not in gone)


def _add_connections(user, rows) -> None:
    """Upstream accounts an agent may use at an MCP server: the person connected them and a
    connection policy lets that agent vend them there."""
    connected = {
        c.provider_id: c.provider.name
        for c in Connection.objects.filter(user=user)
        .exclude(status=Connection.Status.DISCONNECTED)
        .select_related("provider")
    }
    if not connected:
        return
    policies = ConnectionPolicy.objects.filter(enabled=True, provider_id__in=connected)
    for policy in policies.select_related("resource"):
        entry = rows.get((policy.client_id, policy.resource.identifier))
        if entry is not None:
            entry.connections = sorted({*entry.connections, connected[policy.provider_id]})


def tool_reach(resource: Resource, tool: str, *, now: datetime) -> list[AgentAccess]:
    """Every person and agent holding a live token or grant that can call ``tool``.

    A token that carries ``authorization_details`` can call the tools named there; one that
    carries none (its MCP server registered no tools when it was issued) can call what its
    scopes unlock.
    """
    unlocking = registered_tools(resource).get(tool, [])
    bound = [resource.identifier]
    scoped = Q()
    for scope in unlocking:
        scoped |= Q(scope__regex=rf"(^|\s){re.escape(scope)}(\s|$)")
    rows: dict[tuple[int, int], AgentAccess] = {}

    def add(user, client, *, token: bool, at: datetime | None, scope: str) -> None:
        key = (user.pk, client.pk)
        if key not in rows:
            rows[key] = AgentAccess(
                user_id=user.pk,
                username=user.get_username(),
                client_pk=client.pk,
                client_id=client.client_id,
                client_name=client.name,
                resource_pk=resource.pk,
                resource=resource.identifier,
                resource_name=resource.name,
                tools=[tool],
            )
        entry = rows[key]
        entry.scopes = sorted(set(entry.scopes) | set(scope.split()))
        entry.live_tokens += token
        entry.live_grants += not token
        entry.last_used = _later(entry.last_used, at)

    if not unlocking:
        return []
    tokens = AccessToken.objects.filter(
        scoped, resource=bound, revoked_at__isnull=True, expires__gt=now, user__isnull=False
    ).select_related("user", "application")
    for token in tokens:
        carried = _tools_of(token.authorization_details)
        if token.authorization_details and tool not in carried:
            continue
        add(token.user, token.application, token=True, at=token.created, scope=token.scope)
    grants = RefreshToken.objects.filter(
        resource=bound, revoked__isnull=True, user__isnull=False
    ).select_related("user", "application", "access_token")
    for refresh in grants:
        last = refresh.access_token
        if last is None or not any(s in last.scope.split() for s in unlocking):
            continue
        if last.authorization_details and tool not in _tools_of(last.authorization_details):
            continue
        add(
            refresh.user,
            refresh.application,
            token=False,
            at=refresh.last_used_at or refresh.created,
            scope=last.scope,
        )
    return sorted(rows.values(), key=lambda r: (r.username.lower(), r.client_name.lower()))
