"""The verifier package's PDP client (mcp_token_verifier.pdp) against the real server on
loopback: an admin's deny reaches a live token at the next call, and the client fails closed."""

from __future__ import annotations

import base64

import pytest

from authserver.models import ToolPolicy
from mcp_token_verifier import pdp
from mcp_token_verifier.tools import authorize_tool_call
from tests.authzen.conftest import TOOLS
from tests.factories import MCP
from tests.oauthflow import claims_of

pytestmark = pytest.mark.django_db(transaction=True)


def basic_parts(auth: str) -> tuple[str, str]:
    client_id, _, secret = base64.b64decode(auth.split()[1]).decode().partition(":")
    return client_id, secret


@pytest.fixture
def claims(client, world):
    """A real token of the agent (client credentials), decoded as an MCP server would."""
    response = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP, "scope": "notes:read notes:write"},
        HTTP_AUTHORIZATION=world.agent_auth,
    )
    assert response.status_code == 200, response.content
    return claims_of(response.json()["access_token"])


@pytest.fixture
def configured():
    yield
    pdp.configure(None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pdp(live_server, world, **kwargs) -> pdp.PdpClient:
    client_id, secret = basic_parts(world.pep_auth)
    return pdp.PdpClient(
        f"{live_server.url}/access/v1/evaluation",
        client_id=client_id,
        client_secret=secret,
        resource=MCP,
        **kwargs,
    )


def test_admin_deny_refuses_the_next_call_with_the_same_token(
    live_server, world, claims, configured
):
    clock = Clock()
    pdp.configure(make_pdp(live_server, world, cache_seconds=1.0, clock=clock))
    assert sorted(claims["authorization_details"][0]["actions"]) == sorted(
        TOOLS["notes:read"] + TOOLS["notes:write"]
    )
    assert authorize_tool_call(claims, "add_note", {"text": "x"}).allowed
    ToolPolicy.objects.create(resource=world.resource, effect="deny", tools=["add_note"])
    # Within the cache's second the old answer may stand; after it, the deny.
    clock.now += 1.0
    decision = authorize_tool_call(claims, "add_note", {"text": "x"})
    assert not decision.allowed
    assert decision.rule.startswith("pdp: denied")
    assert authorize_tool_call(claims, "list_notes", {}).allowed  # the rest still works


def test_pdp_is_asked_only_after_the_tokens_own_grants_allow(live_server, world, configured):
    pdp.configure(make_pdp(live_server, world))
    claims = {"sub": world.agent.client_id, "client_id": world.agent.client_id, "aud": MCP}
    claims["authorization_details"] = [
        {"type": "mcp_tool", "locations": [MCP], "actions": ["list_notes"]}
    ]
    assert authorize_tool_call(claims, "add_note", {}).rule.startswith("authorization_details")


def test_unreachable_pdp_fails_closed(world, unused_tcp_port, configured):
    client = pdp.PdpClient(
        f"http://127.0.0.1:{unused_tcp_port}/access/v1/evaluation",
        client_id="x",
        client_secret="y",
        resource=MCP,
        timeout=0.5,
    )
    claims = {"sub": "1", "client_id": "c", "aud": MCP}
    decision = client.decide(claims, "list_notes", {})
    assert not decision.allowed
    assert "unreachable" in decision.rule


def test_pdp_that_refuses_the_credentials_fails_closed(live_server, world):
    client = pdp.PdpClient(
        f"{live_server.url}/access/v1/evaluation",
        client_id=world.pep.client_id,
        client_secret="wrong",
        resource=MCP,
    )
    decision = client.decide({"sub": "1", "client_id": "c", "aud": MCP}, "list_notes", {})
    assert decision.rule == "pdp: answered HTTP 401"
