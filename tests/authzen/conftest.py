"""An MCP server with tools, the PEP that protects it, an agent and a user."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from authserver.models import Scope
from tests.factories import MCP, OTHER_MCP, make_client, make_resource
from tests.support.http import basic

TOOLS = {"notes:read": ["list_notes", "whoami"], "notes:write": ["add_note"]}


@dataclass
class World:
    resource: object
    other: object
    pep: object
    pep_auth: str
    other_auth: str
    agent: object
    agent_auth: str
    user: object
    group: object

    def question(self, tool: str = "list_notes", **context) -> dict:
        return {
            "subject": {
                "type": "user",
                "id": str(self.user.pk),
                "properties": {"client_id": self.agent.client_id},
            },
            "action": {"name": "tools/call", "properties": {"tool": tool}},
            "resource": {"type": "mcp_server", "id": MCP},
            **({"context": context} if context else {}),
        }


def make_tools(identifier: str):
    resource = make_resource(
        identifier, scopes={"notes:read": "Read notes", "notes:write": "Add notes"}, defaults=()
    )
    for name, tools in TOOLS.items():
        Scope.objects.filter(resource=resource, name=name).update(tools=tools)
    return resource


@pytest.fixture
def world(db) -> World:
    resource = make_tools(MCP)
    other = make_tools(OTHER_MCP)
    pep, pep_secret = make_client(name="gateway", access={})
    resource.introspection_client = pep
    resource.save()
    other_pep, other_secret = make_client(name="other gateway", access={})
    other.introspection_client = other_pep
    other.save()
    agent, agent_secret = make_client(name="agent", access={resource: "notes:read notes:write"})
    user = get_user_model().objects.create_user("alice", email="alice@example.com")
    group = Group.objects.create(name="staff")
    user.groups.add(group)
    return World(
        resource=resource,
        other=other,
        pep=pep,
        pep_auth=basic(pep.client_id, pep_secret),
        other_auth=basic(other_pep.client_id, other_secret),
        agent=agent,
        agent_auth=basic(agent.client_id, agent_secret),
        user=user,
        group=group,
    )


def ask(client, auth: str | None, body: dict, path: str = "/access/v1/evaluation"):
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.post(path, json.dumps(body), content_type="application/json", **extra)
