"""A warm decision costs one statement: the user, their groups and the cache generation read
together (authzen.subjects); every rule the admin configures comes from the generation-checked
cache. A change in between is still seen at the next decision."""

from __future__ import annotations

import contextlib

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from authserver.models import ToolPolicy
from authzen.models import CedarPolicy
from tests.authzen.conftest import ask

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def statements_run(expected: int):
    """Every statement sent, the ORM's and the prepared ones (authserver.token_endpoint.sql,
    which Django's query log does not see): both go through the connection's wrappers."""
    sent: list[str] = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield
    assert len(sent) == expected, sent


def _warm(client, world, body) -> None:
    # The first request after the fixtures' writes meets a renewed generation and decides
    # again uncached; the second fills the cache.
    for _ in range(2):
        ask(client, world.pep_auth, body)


def test_warm_user_decision_is_one_query_with_group_rules_tool_rules_and_cedar(
    client, world, settings
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
    with statements_run(1):
        assert ask(client, world.pep_auth, body).json() == {"decision": True}


def test_warm_client_subject_decision_is_one_query(client, world, settings):
    settings.AUTHZEN_PERMIT_AUDIT_SAMPLE = 0
    body = world.question("list_notes")
    body["subject"] = {"type": "client", "id": world.agent.client_id}
    _warm(client, world, body)
    with statements_run(1):  # the generation check
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


def test_the_same_user_is_read_once_per_batch(client, world, settings):
    settings.AUTHZEN_PERMIT_AUDIT_SAMPLE = 0
    body = {**world.question(), "evaluations": [{}, {}, {}]}
    _warm(client, world, body)
    with statements_run(1):
        response = ask(client, world.pep_auth, body, "/access/v1/evaluations")
    assert [e["decision"] for e in response.json()["evaluations"]] == [True, True, True]


def test_the_users_statement_is_prepared_once_per_connection(client, world):
    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
            return [row[0] for row in cursor.fetchall() if "SELECT gen.value" in row[0]]

    body = world.question("list_notes")
    _warm(client, world, body)
    first = prepared()
    assert len(first) == 1
    for _ in range(3):
        ask(client, world.pep_auth, body)
    assert prepared() == first  # reused, not prepared again
