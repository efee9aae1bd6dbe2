"""Which tools a client, acting for a user, may use with some scopes: the tools the scopes
unlock, narrowed by the admin's tool policy. The token endpoint (``tool_grants.compute``) and
the live decision (``authserver.policy.decide_tool_call``) both call :func:`permitted_tools`,
so a token and a live decision never disagree about the same facts."""

from __future__ import annotations

from collections.abc import Iterable

from authserver.tool_grants.details import intersect, registered_tools
from authserver.tool_grants.policy import evaluate
from mcp_token_verifier.tools import Grants


def permitted_tools(
    resource, scopes: Iterable[str], *, client, user, rules=None
) -> tuple[Grants, dict[str, str]]:
    """The tools ``scopes`` unlock at ``resource`` that the tool policy lets ``client`` (for
    ``user``) use, with their argument constraints; and why the others were removed."""
    by_scope: Grants = {tool: {} for tool in registered_tools(resource, set(scopes))}
    policy = evaluate(resource, list(by_scope), client=client, user=user, rules=rules)
    return intersect(by_scope, policy.grants), policy.removed
