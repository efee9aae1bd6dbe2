"""Re-consent when a scope grows (the Enterprise-Managed Authorization extension: track the
tools a scope covered at consent; re-authorize when it covers new ones; high-risk tools always
ask). Remembered consent covers the tools the user was shown; a tool added to a scope later is
neither granted by refresh nor by a silent authorization, and is marked new on the screen."""

from __future__ import annotations

import pytest

from accounts.models import Consent
from authserver.models import Scope
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import (
    authorize_url,
    consent_request_id,
    exchange,
    pkce_pair,
    query_of,
    refresh,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def resource():
    resource = make_resource(
        MCP, scopes={"notes:read": "Read notes", "notes:write": "Add notes"}, defaults=()
    )
    Scope.objects.filter(resource=resource, name="notes:read").update(tools=["list_notes"])
    Scope.objects.filter(resource=resource, name="notes:write").update(tools=["add_note"])
    return resource


@pytest.fixture
def app(resource):
    client, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
    )
    return client


def start(client, app, *, scope="notes:read notes:write offline_access", **extra):
    verifier, challenge = pkce_pair()
    url = authorize_url(
        app.client_id,
        resource=MCP,
        scope=scope,
        code_challenge=challenge,
        code_challenge_method="S256",
        **extra,
    )
    return client.get(url), verifier


def allow(client, screen, ticked=None):
    answer = {"request_id": consent_request_id(screen), "allow": "1"}
    if ticked is not None:
        answer.update(tool=ticked, tools_shown="1")
    return client.post("/authorize", answer)


def tokens(client, app, redirect, verifier) -> dict:
    assert redirect.status_code == 302, redirect.content[:300]
    body = exchange(client, app.client_id, query_of(redirect["Location"])["code"], verifier)
    assert body.status_code == 200, body.content
    return body.json()


def tools_of(body: dict) -> set[str]:
    return {a for d in body.get("authorization_details") or [] for a in d["actions"]}


def add_tool(resource, scope: str, tool: str) -> None:
    row = Scope.objects.get(resource=resource, name=scope)
    row.tools = [*row.tools, tool]
    row.save()


def consent_once(client, app, **kwargs) -> dict:
    screen, verifier = start(client, app, **kwargs)
    assert screen.status_code == 200
    return tokens(client, app, allow(client, screen), verifier)


def test_tool_added_after_consent_is_not_granted_by_refresh(client, user, app, resource):
    client.force_login(user)
    first = consent_once(client, app)
    assert tools_of(first) == {"add_note", "list_notes"}
    add_tool(resource, "notes:write", "delete_note")
    again = refresh(client, app.client_id, first["refresh_token"]).json()
    assert tools_of(again) == {"add_note", "list_notes"}


def test_tool_added_after_consent_to_a_server_that_had_none_is_not_granted_by_refresh(
    client, user, app, resource
):
    """A grant made while the server registered no tools carries no tool list; once it
    registers tools, refresh gives only what the consent covered (here: nothing)."""
    Scope.objects.filter(resource=resource).update(tools=[])
    client.force_login(user)
    first = consent_once(client, app)
    assert "authorization_details" not in first
    add_tool(resource, "notes:write", "delete_note")
    again = refresh(client, app.client_id, first["refresh_token"])
    assert again.status_code == 200, again.content
    assert tools_of(again.json()) == set()


def test_tool_added_after_consent_is_not_granted_by_silent_authorization(
    client, user, app, resource
):
    client.force_login(user)
    consent_once(client, app)
    add_tool(resource, "notes:write", "delete_note")
    refused, _ = start(client, app, prompt="none")
    assert refused.status_code == 302
    assert query_of(refused["Location"])["error"] == "consent_required"
    screen, _ = start(client, app)
    assert screen.status_code == 200  # the screen again, not a silent redirect


def test_tool_added_after_consent_is_shown_as_new_on_next_authorization(
    client, user, app, resource
):
    client.force_login(user)
    consent_once(client, app)
    add_tool(resource, "notes:write", "delete_note")
    screen, verifier = start(client, app)
    html = screen.content.decode()
    rows = {
        name: html.split(f'value="{name}"', 1)[1].split("</li>", 1)[0]
        for name in ("add_note", "list_notes", "delete_note")
    }
    assert 'class="badge">new<' in rows["delete_note"]
    assert "new<" not in rows["add_note"]  # only the tool the scope gained
    assert "new<" not in rows["list_notes"]
    body = tokens(client, app, allow(client, screen), verifier)
    assert tools_of(body) == {"add_note", "list_notes", "delete_note"}
    covered = Consent.objects.get().consented_tools
    assert covered == ["add_note", "delete_note", "list_notes"]
    # Now covered: the next authorization is silent again.
    silent, _ = start(client, app, prompt="none")
    assert "code" in query_of(silent["Location"])


def test_new_tool_unticked_on_the_screen_is_remembered_as_declined(client, user, app, resource):
    client.force_login(user)
    consent_once(client, app)
    add_tool(resource, "notes:write", "delete_note")
    screen, verifier = start(client, app)
    body = tokens(client, app, allow(client, screen, ["add_note", "list_notes"]), verifier)
    assert tools_of(body) == {"add_note", "list_notes"}
    silent, verifier = start(client, app, prompt="none")
    assert tools_of(tokens(client, app, silent, verifier)) == {"add_note", "list_notes"}


def test_high_risk_tool_always_needs_fresh_consent(client, user, app, resource):
    resource.high_risk_tools = ["add_note"]
    resource.full_clean()
    resource.save()
    client.force_login(user)
    first = consent_once(client, app)
    assert "add_note" in tools_of(first)
    for _ in range(2):  # remembered consent never covers it silently, however often
        refused, _ = start(client, app, prompt="none")
        assert query_of(refused["Location"])["error"] == "consent_required"
        screen, _ = start(client, app)
        assert screen.status_code == 200
        assert "high-risk</span>" in screen.content.decode()
        allow(client, screen)
    # Refresh keeps what this grant's fresh consent gave, nothing more.
    assert tools_of(refresh(client, app.client_id, first["refresh_token"]).json()) == {
        "add_note",
        "list_notes",
    }


def test_high_risk_tool_asks_even_a_trusted_client(client, user, resource):
    trusted, _ = make_client(
        confidential=False,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    client.force_login(user)
    screen, _ = start(client, trusted)
    assert screen.status_code == 302  # trusted: no screen
    resource.high_risk_tools = ["add_note"]
    resource.save()
    screen, _ = start(client, trusted)
    assert screen.status_code == 200


def test_high_risk_tool_declined_lets_the_next_authorization_be_silent(client, user, app, resource):
    resource.high_risk_tools = ["add_note"]
    resource.save()
    client.force_login(user)
    screen, verifier = start(client, app)
    body = tokens(client, app, allow(client, screen, ["list_notes"]), verifier)
    assert tools_of(body) == {"list_notes"}
    silent, verifier = start(client, app, prompt="none")
    assert tools_of(tokens(client, app, silent, verifier)) == {"list_notes"}


def test_high_risk_tools_must_be_registered_tools(resource):
    from django.core.exceptions import ValidationError

    resource.high_risk_tools = ["drop_database"]
    with pytest.raises(ValidationError, match="not registered"):
        resource.full_clean()
    resource.high_risk_tools = "add_note"
    with pytest.raises(ValidationError, match="list of tool names"):
        resource.full_clean()


def test_consent_screen_marks_no_tool_new_on_a_first_consent(client, user, app):
    client.force_login(user)
    screen, _ = start(client, app)
    html = screen.content.decode()
    for name in ("add_note", "list_notes"):
        assert "new<" not in html.split(f'value="{name}"', 1)[1].split("</li>", 1)[0]


def test_admin_marks_a_tool_high_risk_on_the_mcp_server_page(client, admin_user, resource):
    client.force_login(admin_user)
    page = client.get(f"/admin/authserver/resource/{resource.pk}/change/")
    assert page.status_code == 200
    assert 'name="high_risk_tools"' in page.content.decode()
