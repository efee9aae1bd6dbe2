"""Live decisions: a presented token must be live, and a permission removed after the token
was issued refuses the next call with that same token; the token and the PDP agree."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils import timezone

from authserver.models import AccessToken, AuditEvent, ToolPolicy
from authserver.revocation import service as revocation
from authzen.models import CedarPolicy
from tests.authzen.conftest import ask
from tests.factories import MCP, OTHER_MCP, make_client
from tests.oauthflow import REDIRECT, claims_of, exchange, get_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def app(world):
    """A public MCP client (the agent of a user's tokens)."""
    agent, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=REDIRECT,
        name="desktop agent",
    )
    world.agent = agent
    return agent


def user_token(client, world, scope="notes:read notes:write") -> str:
    client.force_login(world.user)
    code, verifier, _ = get_code(client, world.agent.client_id, resource=MCP, scope=scope)
    response = exchange(client, world.agent.client_id, code, verifier, resource=MCP)
    assert response.status_code == 200, response.content
    client.logout()
    return response.json()["access_token"]


def granted_tools(token: str) -> list[str]:
    details = claims_of(token).get("authorization_details") or []
    return sorted(tool for d in details for tool in d["actions"])


def test_live_token_in_context_is_permitted(client, world, app):
    token = user_token(client, world)
    body = world.question("add_note", access_token=token)
    assert ask(client, world.pep_auth, body).json() == {"decision": True}


def test_revoked_token_is_denied(client, world, app):
    token = user_token(client, world)
    revocation.revoke_access_tokens(AccessToken.objects.all(), now=timezone.now())
    body = ask(client, world.pep_auth, world.question("list_notes", access_token=token)).json()
    assert body["context"]["code"] == "token_inactive"


def test_token_of_another_subject_is_denied(client, world, app):
    token = user_token(client, world)
    other = type(world.user).objects.create_user("bob")
    body = world.question("list_notes", access_token=token)
    body["subject"]["id"] = str(other.pk)
    assert ask(client, world.pep_auth, body).json()["context"]["code"] == "token_mismatch"


def test_token_scopes_limit_the_decision(client, world, app):
    token = user_token(client, world, scope="notes:read")
    body = ask(client, world.pep_auth, world.question("add_note", access_token=token)).json()
    assert body["decision"] is False  # the user could get it, but this token does not hold it
    assert ask(client, world.pep_auth, world.question("add_note")).json()["decision"] is True


def test_tool_policy_added_after_issuance_denies_the_next_call_with_the_same_token(
    client, world, app
):
    token = user_token(client, world)
    assert "add_note" in granted_tools(token)  # the token still says so until it expires
    body = world.question("add_note", access_token=token)
    assert ask(client, world.pep_auth, body).json()["decision"] is True
    ToolPolicy.objects.create(
        resource=world.resource, effect="deny", group=world.group, tools=["add_note"]
    )
    after = ask(client, world.pep_auth, body).json()
    assert after["decision"] is False
    assert after["context"]["code"] == "tool_policy"


def test_group_removed_denies_the_next_call_with_the_same_token(client, world, app):
    writers = Group.objects.create(name="writers")
    world.user.groups.add(writers)
    world.resource.scopes.get(name="notes:write").allowed_groups.add(writers)
    token = user_token(client, world)
    body = world.question("add_note", access_token=token)
    assert ask(client, world.pep_auth, body).json()["decision"] is True
    world.user.groups.remove(writers)
    assert ask(client, world.pep_auth, body).json()["decision"] is False


def test_a_new_token_and_the_pdp_agree_about_the_tools(client, world, app):
    """The same facts, the same answer: what a token is issued with is what the PDP's action
    search permits, under an allow rule reserving a tool and a deny rule."""
    others = Group.objects.create(name="others")
    ToolPolicy.objects.create(resource=world.resource, group=others, tools=["whoami"])
    ToolPolicy.objects.create(
        resource=world.resource, effect="deny", group=world.group, tools=["add_note"]
    )
    token = user_token(client, world)
    search = world.question()
    del search["action"]
    search["context"] = {"access_token": token}
    found = ask(client, world.pep_auth, search, "/access/v1/search/action").json()
    assert sorted(a["name"] for a in found["results"]) == granted_tools(token) == ["list_notes"]


# --- Cedar policies an admin writes ------------------------------------------------------


def test_cedar_forbid_refuses_what_the_rules_allow(client, world):
    CedarPolicy.objects.create(
        resource=world.resource,
        name="no long notes",
        source='forbid(principal, action == Action::"add_note", resource) '
        'when { context.arguments.text like "*secret*" };',
    )
    ok = world.question("add_note", arguments={"text": "todo: milk"})
    assert ask(client, world.pep_auth, ok).json() == {"decision": True}
    bad = world.question("add_note", arguments={"text": "a secret plan"})
    assert ask(client, world.pep_auth, bad).json()["context"]["code"] == "cedar_forbid"


def test_cedar_cannot_widen_what_the_rules_refuse(client, world):
    CedarPolicy.objects.create(name="permit all", source="permit(principal, action, resource);")
    assert ask(client, world.pep_auth, world.question("rm_rf")).json()["decision"] is False


def test_cedar_policy_that_errors_refuses(client, world):
    CedarPolicy.objects.create(
        name="needs an argument",
        source="forbid(principal, action, resource) when { context.arguments.n > 3 };",
    )
    body = ask(client, world.pep_auth, world.question("list_notes", arguments={})).json()
    assert body["context"]["code"] == "cedar_error"  # fail closed


def test_invalid_cedar_is_refused_on_save():
    policy = CedarPolicy(name="broken", source="forbid(principal, action, resource) when {")
    with pytest.raises(ValidationError):
        policy.full_clean()


def test_cedar_policy_added_after_a_decision_applies_to_the_next_one(client, world):
    """Policies are cached under the generation (a trigger renews it), never beyond it."""
    assert ask(client, world.pep_auth, world.question("list_notes")).json()["decision"] is True
    CedarPolicy.objects.create(name="freeze", source="forbid(principal, action, resource);")
    body = ask(client, world.pep_auth, world.question("list_notes")).json()
    assert body["context"]["code"] == "cedar_forbid"


def test_user_deactivated_after_a_decision_is_refused_at_the_next_one(client, world):
    assert ask(client, world.pep_auth, world.question("list_notes")).json()["decision"] is True
    type(world.user).objects.filter(pk=world.user.pk).update(is_active=False)
    body = ask(client, world.pep_auth, world.question("list_notes")).json()
    assert body["context"]["code"] == "user_inactive"


def test_token_passthrough_from_another_server_is_inactive(client, world, app):
    """A token minted for another MCP server, shown to this one's PEP: not live here."""
    client.force_login(world.user)
    code, verifier, _ = get_code(client, world.agent.client_id, resource=OTHER_MCP, scope="")
    token = exchange(client, world.agent.client_id, code, verifier, resource=OTHER_MCP).json()
    body = world.question("list_notes", access_token=token["access_token"])
    assert ask(client, world.pep_auth, body).json()["context"]["code"] == "token_inactive"


def test_cedar_sees_the_delegation_chain(client, world):
    CedarPolicy.objects.create(
        name="no delegated writes",
        source='forbid(principal, action == Action::"add_note", resource) '
        "when { context has act };",
    )
    direct = world.question("add_note", arguments={"text": "x"})
    assert ask(client, world.pep_auth, direct).json()["decision"] is True
    delegated = world.question("add_note", arguments={"text": "x"})
    delegated["subject"]["properties"]["act"] = {"sub": "gateway-client"}
    body = ask(client, world.pep_auth, delegated).json()
    assert body["context"]["code"] == "cedar_forbid"
    event = AuditEvent.objects.filter(kind="authzen.deny").latest("pk")
    assert "gateway-client" in event.detail["act"]
