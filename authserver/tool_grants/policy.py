"""Evaluating the admin's tool policy (ToolPolicy rules) for one client and user."""

from __future__ import annotations

from dataclasses import dataclass, field

from authserver.tool_grants.details import IMPOSSIBLE, merge_arguments
from authserver.tool_grants.models import ToolPolicy
from mcp_token_verifier.tools import Grants


@dataclass(frozen=True)
class PolicyResult:
    grants: Grants  # what the policy lets this caller use, with constraints
    removed: dict[str, str] = field(default_factory=dict)  # tool -> why, for the consent screen


def load_rules(resource) -> list[ToolPolicy]:
    """Read at every issuance: a policy change reaches the next token at once."""
    return list(ToolPolicy.objects.filter(resource=resource, enabled=True).order_by("pk"))


def evaluate(resource, tools, *, client, user, rules=None) -> PolicyResult:
    """Which of ``tools`` the policy lets ``client`` (acting for ``user``) use.

    1. A deny rule matching the caller removes the tool (deny wins).
    2. A tool that allow rules name is reserved to the callers they match; the most specific
       matching level (client, then group, then everyone) gives its constraints, several rules
       at that level all applying (the stricter reading).
    3. A tool no rule names stays as its scopes give it.
    """
    rules = load_rules(resource) if rules is None else rules
    group_ids = _group_ids(user) if any(r.group_id for r in rules) else set()
    grants: Grants = {}
    removed: dict[str, str] = {}
    for tool in tools:
        naming = [r for r in rules if tool in r.tools or r.tools == ["*"]]
        matching = [r for r in naming if _matches(r, client, group_ids)]
        if any(r.effect == ToolPolicy.Effect.DENY for r in matching):
            removed[tool] = "denied by the administrator's policy"
            continue
        allows = [r for r in naming if r.effect == ToolPolicy.Effect.ALLOW]
        if not allows:
            grants[tool] = {}
            continue
        level = _most_specific([r for r in matching if r.effect == ToolPolicy.Effect.ALLOW])
        if not level:
            removed[tool] = "reserved by the administrator's policy to other users or apps"
            continue
        constraints: dict | object = {}
        for rule in level:
            constraints = merge_arguments(constraints, rule.constraints or {})
            if constraints is IMPOSSIBLE:
                break
        if constraints is IMPOSSIBLE:
            removed[tool] = "the administrator's constraints for it contradict each other"
            continue
        grants[tool] = constraints
    return PolicyResult(grants=grants, removed=removed)


def _matches(rule: ToolPolicy, client, group_ids: set[int]) -> bool:
    if rule.client_id is not None:
        return rule.client_id == getattr(client, "pk", None)
    if rule.group_id is not None:
        return rule.group_id in group_ids
    return True


def _most_specific(rules: list[ToolPolicy]) -> list[ToolPolicy]:
    for level in (
        [r for r in rules if r.client_id is not None],
        [r for r in rules if r.group_id is not None],
        [r for r in rules if r.client_id is None and r.group_id is None],
    ):
        if level:
            return level
    return []


def _group_ids(user) -> set[int]:
    if user is None:
        return set()  # client credentials: no user, no group
    # .all(): a user loaded with its groups (prefetched, the live decision) costs no query.
    return {group.pk for group in user.groups.all()}
