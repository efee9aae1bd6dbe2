"""A token and a live decision never disagree about the same facts: for any tool policy and
group rules, the tools ``tool_grants.compute`` puts in a token are exactly the tools
``authserver.policy.decide_tool_call`` permits (or permits once the arguments are shown)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authserver import tool_grants
from authserver.errors import InvalidGrant
from authserver.models import ToolPolicy
from authserver.policy import decide_tool_call
from authserver.resources import grouppolicy
from tests.authzen.conftest import TOOLS

pytestmark = pytest.mark.django_db

ALL_TOOLS = sorted(t for tools in TOOLS.values() for t in tools)
rule = st.fixed_dictionaries(
    {
        "effect": st.sampled_from(["allow", "deny"]),
        "audience": st.sampled_from(["everyone", "my group", "other group", "agent"]),
        "tools": st.lists(st.sampled_from(ALL_TOOLS), min_size=1, max_size=3, unique=True),
        "constrained": st.booleans(),
    }
)


class Rollback(Exception):
    pass


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rules=st.lists(rule, max_size=4),
    write_limited=st.booleans(),
    scopes=st.sampled_from([["notes:read"], ["notes:write"], ["notes:read", "notes:write"]]),
)
def test_token_and_live_decision_agree(world, rules, write_limited, scopes):
    other = Group.objects.get_or_create(name="other")[0]
    try:
        with transaction.atomic():
            for r in rules:
                ToolPolicy.objects.create(
                    resource=world.resource,
                    effect=r["effect"],
                    group={"my group": world.group, "other group": other}.get(r["audience"]),
                    client=world.agent if r["audience"] == "agent" else None,
                    tools=r["tools"],
                    constraints={"text": {"prefix": "x"}}
                    if r["constrained"] and r["effect"] == "allow"
                    else {},
                )
            if write_limited:
                world.resource.scopes.get(name="notes:write").allowed_groups.add(other)
            resource = type(world.resource).objects.get(pk=world.resource.pk)
            try:
                held = grouppolicy.scopes_for_token(world.user, resource, scopes)
            except InvalidGrant:  # every scope lost: no token at all
                held = []
            details = json.loads(
                tool_grants.compute(resource, held, client=world.agent, user=world.user) or "[]"
            )
            in_token = {t for d in details for t in d["actions"]}
            live = {
                tool
                for tool in ALL_TOOLS
                if (
                    d := decide_tool_call(
                        resource, tool, None, client=world.agent, user=world.user, scopes=scopes
                    )
                ).allowed
                or d.code == "arguments_required"
            }
            assert live == in_token
            raise Rollback
    except Rollback:
        pass
