"""AuthZEN 1.0 §8 search, and the AuthZEN working group's "Todo" interop scenario mapped onto
an MCP server (interop/authzen-todo-backend/test/decisions.json in openid/authzen)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from authserver.models import Scope, ToolPolicy
from authzen.models import CedarPolicy
from tests.authzen.conftest import ask
from tests.factories import MCP, make_resource

pytestmark = pytest.mark.django_db


def search_body(world, **overrides):
    body = world.question()
    body.update(overrides)
    return body


def test_action_search_lists_the_tools_a_subject_may_call(client, world):
    ToolPolicy.objects.create(
        resource=world.resource, tools=["add_note"], constraints={"text": {"prefix": "todo:"}}
    )
    ToolPolicy.objects.create(
        resource=world.resource, effect="deny", group=world.group, tools=["whoami"]
    )
    body = search_body(world)
    del body["action"]
    results = ask(client, world.pep_auth, body, "/access/v1/search/action").json()["results"]
    assert results == [
        {"name": "add_note", "properties": {"constraints": {"text": {"prefix": "todo:"}}}},
        {"name": "list_notes"},
    ]


def test_action_search_about_another_server_is_403(client, world):
    body = search_body(world)
    del body["action"]
    assert ask(client, world.other_auth, body, "/access/v1/search/action").status_code == 403


def test_resource_search_lists_the_callers_servers_only(client, world):
    body = search_body(world, resource={"type": "mcp_server"})
    response = ask(client, world.pep_auth, body, "/access/v1/search/resource")
    assert response.json() == {"results": [{"type": "mcp_server", "id": MCP}]}


def test_subject_search_lists_users_who_may_call_the_tool_paginated(client, world):
    users = [get_user_model().objects.create_user(f"u{i}") for i in range(3)]
    world.resource.scopes.get(name="notes:write").allowed_groups.add(world.group)
    users[1].groups.add(world.group)
    body = search_body(world, action={"name": "add_note"})
    body["subject"] = {"type": "user", "properties": {"client_id": world.agent.client_id}}
    body["page"] = {"limit": 1}
    first = ask(client, world.pep_auth, body, "/access/v1/search/subject").json()
    assert first["results"] == [{"type": "user", "id": str(world.user.pk)}]
    assert first["page"]["next_token"]
    found = list(first["results"])
    page = first["page"]
    while page["next_token"]:
        body["page"] = {"limit": 1, "token": page["next_token"]}
        answer = ask(client, world.pep_auth, body, "/access/v1/search/subject").json()
        found += answer["results"]
        page = answer["page"]
    assert found == [
        {"type": "user", "id": str(world.user.pk)},
        {"type": "user", "id": str(users[1].pk)},
    ]


def test_subject_search_rejects_a_forged_page_token(client, world):
    body = search_body(world, action={"name": "add_note"})
    body["subject"] = {"type": "user", "properties": {"client_id": world.agent.client_id}}
    body["page"] = {"token": "not-ours"}
    assert ask(client, world.pep_auth, body, "/access/v1/search/subject").status_code == 400


# --- the Todo interop scenario -----------------------------------------------------------

TODO = "https://todo.example.com/mcp"
ROLES = {
    "rick@the-citadel.com": ["admin", "evil_genius"],
    "morty@the-citadel.com": ["editor"],
    "summer@the-smiths.com": ["editor"],
    "beth@the-smiths.com": ["viewer"],
    "jerry@the-smiths.com": ["viewer"],
}
# Roles as groups, permissions as tools; ownership as the admin's Cedar policies.
OWNERSHIP = """
forbid(principal, action == Action::"can_update_todo", resource)
  unless { context.arguments.ownerID == principal.email
           || principal.groups.contains("evil_genius") };
forbid(principal, action == Action::"can_delete_todo", resource)
  unless { context.arguments.ownerID == principal.email || principal.groups.contains("admin") };
"""
# (subject, action, ownerID or None, expected): every case of the scenario's decisions.json.
CASES = (
    [(who, "can_read_user", None, True) for who in ROLES]
    + [(who, "can_read_todos", None, True) for who in ROLES]
    + [
        ("rick@the-citadel.com", "can_create_todo", None, True),
        ("morty@the-citadel.com", "can_create_todo", None, True),
        ("summer@the-smiths.com", "can_create_todo", None, True),
        ("beth@the-smiths.com", "can_create_todo", None, False),
        ("jerry@the-smiths.com", "can_create_todo", None, False),
        ("rick@the-citadel.com", "can_update_todo", "rick@the-citadel.com", True),
        ("rick@the-citadel.com", "can_update_todo", "morty@the-citadel.com", True),
        ("rick@the-citadel.com", "can_delete_todo", "rick@the-citadel.com", True),
        ("rick@the-citadel.com", "can_delete_todo", "morty@the-citadel.com", True),
        ("morty@the-citadel.com", "can_update_todo", "rick@the-citadel.com", False),
        ("morty@the-citadel.com", "can_update_todo", "morty@the-citadel.com", True),
        ("morty@the-citadel.com", "can_delete_todo", "rick@the-citadel.com", False),
        ("morty@the-citadel.com", "can_delete_todo", "morty@the-citadel.com", True),
        ("summer@the-smiths.com", "can_update_todo", "rick@the-citadel.com", False),
        ("summer@the-smiths.com", "can_update_todo", "summer@the-smiths.com", True),
        ("summer@the-smiths.com", "can_delete_todo", "rick@the-citadel.com", False),
        ("summer@the-smiths.com", "can_delete_todo", "summer@the-smiths.com", True),
        ("beth@the-smiths.com", "can_update_todo", "rick@the-citadel.com", False),
        ("beth@the-smiths.com", "can_update_todo", "beth@the-smiths.com", False),
        ("beth@the-smiths.com", "can_delete_todo", "rick@the-citadel.com", False),
        ("beth@the-smiths.com", "can_delete_todo", "beth@the-smiths.com", False),
        ("jerry@the-smiths.com", "can_update_todo", "rick@the-citadel.com", False),
        ("jerry@the-smiths.com", "can_update_todo", "jerry@the-smiths.com", False),
        ("jerry@the-smiths.com", "can_delete_todo", "rick@the-citadel.com", False),
        ("jerry@the-smiths.com", "can_delete_todo", "jerry@the-smiths.com", False),
    ]
)


@pytest.fixture
def todo(world):
    resource = make_resource(TODO, scopes={"todo": "Your todos"}, defaults=("todo",))
    Scope.objects.filter(resource=resource).update(
        tools=[
            "can_read_user",
            "can_read_todos",
            "can_create_todo",
            "can_update_todo",
            "can_delete_todo",
        ]
    )
    resource.introspection_client = world.pep
    resource.save()
    groups = {name: Group.objects.create(name=name) for name in ("admin", "evil_genius", "editor")}
    Group.objects.create(name="viewer")
    for group in groups.values():
        ToolPolicy.objects.create(
            resource=resource,
            group=group,
            tools=["can_create_todo", "can_update_todo", "can_delete_todo"],
        )
    CedarPolicy.objects.create(resource=resource, name="ownership", source=OWNERSHIP)
    people = {}
    for email, roles in ROLES.items():
        user = get_user_model().objects.create_user(email.split("@")[0], email=email)
        user.groups.set(Group.objects.filter(name__in=roles))
        people[email] = user
    return people


@pytest.mark.parametrize(("who", "action", "owner", "expected"), CASES)
def test_todo_interop_decision(client, world, todo, who, action, owner, expected):
    body = {
        "subject": {
            "type": "user",
            "id": str(todo[who].pk),
            "properties": {"client_id": world.agent.client_id},
        },
        "action": {"name": action},
        "resource": {"type": "mcp_server", "id": TODO},
        "context": {"arguments": {"ownerID": owner} if owner else {}},
    }
    assert ask(client, world.pep_auth, body).json()["decision"] is expected
