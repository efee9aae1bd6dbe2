"""The live decision: may this client, acting for this user, call this tool of this MCP
server with these arguments, now?

One rule with the token endpoint, so a token and a live decision never disagree about the
same facts: the scopes come from the resource and scope group policy
(``resources.grouppolicy.allowed_scopes``, which ``scopes_for_token`` applies to every token
request) or the client's ResourceAccess (client credentials), the tools from
``tool_grants.decision.permitted_tools`` (which ``tool_grants.compute`` uses for tokens).
The live decision also refuses a disabled resource, client or user. A policy decision point
(the ``authzen`` feature) calls :func:`decide_tool_call`; it reads current rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from authserver.resources import grouppolicy
from authserver.token_endpoint.grants.base import group_restricted
from authserver.token_endpoint.hotcache import Snapshot
from authserver.tool_grants.decision import permitted_tools
from authserver.tool_grants.details import grants_from_details, intersect, registered_tools
from authserver.tool_grants.policy import load_rules
from mcp_token_verifier.tools import check_call


@dataclass(frozen=True)
class ToolDecision:
    """A decision with its reason: ``code`` is stable (metrics, audit), ``reason`` is words."""

    allowed: bool
    code: str
    reason: str
    constraints: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.allowed


def _deny(code: str, reason: str) -> ToolDecision:
    return ToolDecision(False, code, reason)


def _held_scopes(resource, client, user, scopes: Iterable[str] | None, snap: Snapshot):
    """The scopes the caller may hold at ``resource`` now, or a refusal."""
    if user is None:
        # Client credentials: the admin's ResourceAccess for this client is the ceiling.
        access = snap.get(
            ("access-scopes", client.pk, resource.pk),
            lambda: [a.scopes for a in resource.access.filter(client=client)],
            cache_none=True,
        )
        allowed = set(access[0]) if access else set()
        return allowed if scopes is None else allowed & set(scopes)
    wanted = [s.name for s in resource.scopes.all()] if scopes is None else list(scopes)
    # The token endpoint's shortcut (grants/base.py): no group rule at this resource, no query.
    restricted = snap.get(("group-restricted", resource.pk), lambda: group_restricted(resource.pk))
    if not restricted:
        return set(wanted)
    rules = snap.get(("group-rules", resource.pk), lambda: grouppolicy.group_rules(resource))
    try:
        return grouppolicy.allowed_scopes(user, resource, wanted, rules=rules)
    except grouppolicy.PolicyRefused as refused:
        return _deny("group_policy", refused.reason)


def decide_tool_call(
    resource,
    tool: str,
    arguments: Mapping[str, Any] | None = None,
    *,
    client,
    user,
    scopes: Iterable[str] | None = None,
    ceiling: list | None = None,
    snap: Snapshot | None = None,
) -> ToolDecision:
    """May ``client``, acting for ``user`` (None: for itself), call ``tool`` at ``resource``
    with ``arguments``, now? ``scopes`` and ``ceiling`` (``authorization_details``) narrow to
    what a presented token holds; without them the question is about what the caller could
    be granted. Every check refuses unless it positively allows (fail closed). ``snap``: the
    generation-checked cache (token_endpoint.hotcache) for the rules; the caller confirms it
    was current once it decided, or decides again uncached."""
    snap = snap if snap is not None else Snapshot(None)
    if resource is None or not resource.enabled:
        return _deny("resource_disabled", "the MCP server is unknown or disabled")
    if client is None or not client.is_active:
        return _deny("client_disabled", "the client (agent) is unknown or disabled")
    if user is not None and not user.is_active:
        return _deny("user_inactive", "the user is deactivated")
    if tool not in registered_tools(resource):
        return _deny("unknown_tool", "the MCP server registered no such tool")
    held = _held_scopes(resource, client, user, scopes, snap)
    if isinstance(held, ToolDecision):
        return held
    rules = snap.get(("tool-policy", resource.pk), lambda: load_rules(resource))
    grants, removed = permitted_tools(resource, held, client=client, user=user, rules=rules)
    if ceiling is not None:
        grants = intersect(grants, grants_from_details(ceiling, resource))
    if tool not in grants:
        if tool in removed:
            return _deny("tool_policy", removed[tool])
        if ceiling is not None and tool in registered_tools(resource, held):
            return _deny("not_granted", "the token's authorization_details do not grant it")
        return _deny("scope", "no scope the caller may hold unlocks this tool")
    constraints = grants[tool]
    if arguments is None and constraints:
        # Arguments not shown (a search, or only their digest): a constrained tool cannot be
        # allowed blind.
        return ToolDecision(
            False, "arguments_required", "its constraints need the arguments", constraints
        )
    broken = check_call(arguments or {}, constraints)
    if broken:
        return _deny("arguments", f"argument {broken}")
    return ToolDecision(True, "permit", "allowed", constraints)
