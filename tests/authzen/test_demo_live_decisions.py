"""`make demo` wires the demo MCP server to the decision point: its resource names a client
of its own as introspection client, whose credentials the demo server gets, so an admin's
deny rule refuses the next call (the same token; the MCP SDK end to end:
tests/e2e/test_live_decisions_sdk.py)."""

from __future__ import annotations

import dataclasses
import io

import pytest
from django.core.management import CommandError, call_command

from authserver.models import Resource, ToolPolicy
from examples import demo
from tests.authzen.conftest import ask
from tests.factories import make_client
from tests.support.http import basic

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_resources(settings):
    # The demo MCP server is http://127.0.0.1 (the development mode allows it).
    settings.CONFIG = dataclasses.replace(settings.CONFIG, allow_http_loopback_resources=True)


def _manage(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_add_resource_sets_the_introspection_client():
    pep, _ = make_client(name="pep")
    call_command(
        "add_resource", demo.RESOURCE, "--name", "x", "--introspection-client", pep.client_id
    )
    assert Resource.objects.get(identifier=demo.RESOURCE).introspection_client == pep


def test_add_resource_refuses_a_public_or_unknown_introspection_client():
    public, _ = make_client(confidential=False, grant_types=("authorization_code",))
    for client_id in (public.client_id, "nobody"):
        with pytest.raises(CommandError, match="confidential client"):
            call_command(
                "add_resource", demo.RESOURCE, "--name", "x", "--introspection-client", client_id
            )
    assert not Resource.objects.filter(identifier=demo.RESOURCE).exists()


def test_demo_server_credentials_get_live_decisions_and_a_deny_rule_refuses_the_next_call(
    client, monkeypatch
):
    monkeypatch.setattr(demo, "manage", _manage)
    env = demo.register_resource()
    resource = Resource.objects.get(identifier=demo.RESOURCE)
    assert resource.introspection_client.client_id == env["DEMO_PDP_CLIENT_ID"]
    agent, _ = make_client(name="agent", access={resource: "notes:read"})
    question = {
        "subject": {"type": "client", "id": agent.client_id},
        "action": {"name": "tools/call", "properties": {"tool": "list_notes"}},
        "resource": {"type": "mcp_server", "id": demo.RESOURCE},
    }
    auth = basic(env["DEMO_PDP_CLIENT_ID"], env["DEMO_PDP_CLIENT_SECRET"])
    assert ask(client, auth, question).json() == {"decision": True}
    ToolPolicy.objects.create(resource=resource, effect="deny", tools=["list_notes"])
    refused = ask(client, auth, question).json()
    assert refused["decision"] is False
    assert refused["context"]["code"] == "tool_policy"
    # A second start rotates the secret: the old one no longer authenticates.
    again = demo.register_resource()
    assert again["DEMO_PDP_CLIENT_ID"] == env["DEMO_PDP_CLIENT_ID"]
    assert ask(client, auth, question).status_code == 401
