"""A warm decision costs one statement: the user, their groups and the cache generation read
together (authzen.subjects); every rule the admin configures comes from the generation-checked
cache. A change in between is still seen at the next decision."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from authserver.models import ToolPolicy
from authzen.models import CedarPolicy
from tests.authzen.conftest import ask

pytestmark = pytest.mark.django_db


def _warm(client, world, body) -> None:
    # The first request after the fixtures' writes meets a renewed generation and decides
    # again uncached; the second fills the cache.
    for _ in range(2):
        ask(client, world.pep_auth, body)


def test_warm_user_decision_is_one_query_with_group_rules_tool_rules_and_cedar(
    client, world, settings, django_assert_num_queries
):
    settings.AUTHZEN_PERMIT_AUDIT_SAMPLE = 0
    world.resource.allowed_groups.add(world.group)
    world.resource.scopes.get(name="notes:write").allowed_groups.add(world.group)
    ToolPolicy.objects.create(resource=world.resource, group=world.group, tools=["add_note"])
    CedarPolicy.objects.create(
        name="no secrets",
        source="forbid(principal, action, resource) when { context.arguments has secret };",
    )
    body = world.question("add_note", arguments={"text": "milk"})
    _warm(client, world, body)
    with django_assert_num_queries(1):
        assert ask(client, world.pep_auth, body).json() == {"decision": True}


def test_warm_client_subject_decision_is_one_query(
    client, world, settings, django_assert_num_queries
):
    settings.AUTHZEN_PERMIT_AUDIT_SAMPLE = 0
    body = world.question("list_notes")
    body["subject"] = {"type": "client", "id": world.agent.client_id}
    _warm(client, world, body)
    with django_assert_num_queries(1):  # the generation check
        assert ask(client, world.pep_auth, body).json() == {"decision": True}


def test_group_membership_removed_refuses_the_next_decision(client, world):
    """Memberships renew no generation: they are read with the user at every decision."""
    world.resource.allowed_groups.add(world.group)
    body = world.question("list_notes")
    _warm(client, world, body)
    assert ask(client, world.pep_auth, body).json() == {"decision": True}
    world.user.groups.remove(world.group)
    refused = ask(client, world.pep_auth, body).json()
    assert refused["context"]["code"] == "group_policy"


def test_group_rule_added_to_a_warm_cache_refuses_the_next_decision(client, world):
    """A rule change renews the generation, which the user's statement reads: the request
    is decided again on current rows."""
    body = world.question("list_notes")
    _warm(client, world, body)
    world.resource.allowed_groups.add(Group.objects.create(name="others"))
    refused = ask(client, world.pep_auth, body).json()
    assert refused["context"]["code"] == "group_policy"


def test_the_same_user_is_read_once_per_batch(client, world, settings, django_assert_num_queries):
    settings.AUTHZEN_PERMIT_AUDIT_SAMPLE = 0
    body = {**world.question(), "evaluations": [{}, {}, {}]}
    _warm(client, world, body)
    with django_assert_num_queries(1):
        response = ask(client, world.pep_auth, body, "/access/v1/evaluations")
    assert [e["decision"] for e in response.json()["evaluations"]] == [True, True, True]
