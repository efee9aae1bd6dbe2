"""The access review: what a person's agents can reach, who can call a tool, and one action
that cuts it off through the revocation services (audited, on the revocation list)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from accounts.models import Consent
from authserver.admin import access_review
from authserver.models import AccessToken, AuditEvent, RefreshToken
from connections.models import Connection, ConnectionPolicy, UpstreamProvider
from tests.factories import MCP, OTHER_MCP, make_client, make_resource

pytestmark = pytest.mark.django_db


def _token(user, app, resource, scope: str, *, tools=None, family=None):
    now = timezone.now()
    details = (
        [{"type": "mcp_tool", "locations": [resource.identifier], "actions": tools}]
        if tools is not None
        else None
    )
    access = AccessToken.objects.create(
        user=user,
        application=app,
        token=uuid.uuid4().hex,
        jti=uuid.uuid4().hex,
        expires=now + timedelta(minutes=5),
        scope=scope,
        resource=[resource.identifier],
        token_family=family or uuid.uuid4(),
        authorization_details=details,
    )
    refresh = RefreshToken.objects.create(
        user=user,
        application=app,
        token=uuid.uuid4().hex,
        access_token=access,
        resource=[resource.identifier],
        token_family=access.token_family,
    )
    return access, refresh


@pytest.fixture
def world(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    notes = make_resource(MCP, name="Notes", scopes={"notes:read": "r", "notes:write": "w"})
    pay = make_resource(OTHER_MCP, name="Payments", scopes={"payments": "p"})
    scope = pay.scopes.get()
    scope.tools = ["payments.refund", "payments.list"]
    scope.save()
    agent, _ = make_client(confidential=False, grant_types=("authorization_code",), name="Agent")
    other, _ = make_client(confidential=False, grant_types=("authorization_code",), name="Other")
    Consent.objects.create(user=alice, client=agent, resource=notes, scope="notes:read")
    _token(alice, agent, notes, "notes:read")
    _token(alice, agent, pay, "payments", tools=["payments.refund"])
    _token(bob, other, pay, "payments", tools=["payments.list"])
    github = UpstreamProvider.objects.create(
        slug="github",
        name="GitHub",
        authorization_endpoint="https://gh.example/authorize",
        token_endpoint="https://gh.example/token",
        client_id="c",
    )
    Connection.objects.create(user=alice, provider=github, status="active")
    ConnectionPolicy.objects.create(client=agent, resource=pay, provider=github, scopes="repo")
    return alice, bob, agent, other, notes, pay


def test_a_persons_agents_with_servers_scopes_tools_and_connections(world):
    alice, _bob, agent, _other, notes, pay = world
    rows = {r.resource: r for r in access_review.person(alice, now=timezone.now())}
    assert set(rows) == {notes.identifier, pay.identifier}
    assert rows[notes.identifier].consented
    assert rows[notes.identifier].scopes == ["notes:read"]
    assert rows[notes.identifier].tools == ["read_note"]  # what its scope unlocks
    assert rows[pay.identifier].tools == ["payments.refund"]  # what its token carries
    assert rows[pay.identifier].connections == ["GitHub"]
    assert rows[pay.identifier].live_tokens == 1
    assert rows[pay.identifier].live_grants == 1
    assert all(r.client_pk == agent.pk for r in rows.values())


def test_who_can_call_a_tool_follows_the_tools_tokens_carry(world):
    _alice, _bob, agent, other, _notes, pay = world
    refund = access_review.tool_reach(pay, "payments.refund", now=timezone.now())
    assert [(r.username, r.client_pk) for r in refund] == [("alice", agent.pk)]
    listing = access_review.tool_reach(pay, "payments.list", now=timezone.now())
    assert [(r.username, r.client_pk) for r in listing] == [("bob", other.pk)]
    assert access_review.tool_reach(pay, "payments.unknown", now=timezone.now()) == []


def test_the_review_page_answers_in_one_page_and_exports_csv_and_json(admin_client, world):
    alice, *_ = world
    url = reverse("admin:access_review")
    page = admin_client.get(url, {"user": "alice"}).content.decode()
    assert "Agent" in page
    assert "payments.refund" in page
    assert "GitHub" in page
    exported = admin_client.get(url, {"user": alice.pk, "format": "json"})
    assert exported["Content-Type"] == "application/json"
    assert {r["resource_name"] for r in json.loads(exported.content)} == {"Notes", "Payments"}
    csv_text = admin_client.get(url, {"user": alice.pk, "format": "csv"}).content.decode()
    assert csv_text.splitlines()[0].startswith("username,client_name,client_id")
    tool_page = admin_client.get(
        reverse("admin:access_tool_review"), {"resource": world[5].pk, "tool": "payments.refund"}
    ).content.decode()
    assert "alice" in tool_page
    assert "bob" not in tool_page


def test_cutting_off_one_row_revokes_that_grant_and_withdraws_its_consent(admin_client, world):
    alice, _bob, agent, _other, notes, pay = world
    response = admin_client.post(
        reverse("admin:access_cut_off"),
        {"user": alice.pk, "client": agent.pk, "resource": notes.identifier},
    )
    assert response.status_code == 302
    assert not Consent.objects.filter(user=alice, resource=notes).exists()
    assert not AccessToken.objects.filter(
        user=alice, resource=[notes.identifier], revoked_at__isnull=True
    ).exists()
    # The other MCP server is untouched, and the person's connection stays for it.
    assert AccessToken.objects.filter(
        user=alice, resource=[pay.identifier], revoked_at__isnull=True
    ).exists()
    assert Connection.objects.get(user=alice).status == "active"
    assert AuditEvent.objects.filter(kind="access.cut_off", user_id=str(alice.pk)).exists()
    assert AuditEvent.objects.filter(kind="grant.revoked", user_id=str(alice.pk)).exists()


def test_cutting_off_everything_leaves_the_person_no_reach(admin_client, world):
    alice, bob, *_ = world
    admin_client.post(reverse("admin:access_cut_off"), {"user": alice.pk})
    assert access_review.person(alice, now=timezone.now()) == [] or all(
        not r.live_tokens and not r.live_grants and not r.consented
        for r in access_review.person(alice, now=timezone.now())
    )
    assert Connection.objects.get(user=alice).status == "disconnected"
    assert not RefreshToken.objects.filter(user=alice, revoked__isnull=True).exists()
    assert RefreshToken.objects.filter(user=bob, revoked__isnull=True).exists()
    assert AuditEvent.objects.filter(kind="user.revoked", user_id=str(alice.pk)).exists()


def test_view_only_staff_can_review_but_not_cut_off(client, make_user, world):
    alice, *_ = world
    viewer = make_user("viewer", staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(viewer)
    page = client.get(reverse("admin:access_review"), {"user": alice.pk}).content.decode()
    assert "payments.refund" in page
    assert "Cut off" not in page
    response = client.post(reverse("admin:access_cut_off"), {"user": alice.pk})
    assert response.status_code == 403
    assert RefreshToken.objects.filter(user=alice, revoked__isnull=True).exists()


def test_staff_without_token_permission_cannot_open_the_review(client, make_user, world):
    client.force_login(make_user("bare", staff=True))
    assert client.get(reverse("admin:access_review"), {"user": "alice"}).status_code == 403
    assert client.get(reverse("admin:access_tool_review")).status_code == 403


def test_cut_off_is_post_only(admin_client, world):
    alice, *_ = world
    assert admin_client.get(reverse("admin:access_cut_off"), {"user": alice.pk}).status_code == 405


def test_a_persons_review_reads_only_the_servers_their_agents_reach(world):
    """Ten thousand MCP servers with fifty tools each were all read for one person's page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alice, *_ = world
    for i in range(3):
        make_resource(f"https://unrelated-{i}.example/mcp", name=f"Unrelated {i}")
    with CaptureQueriesContext(connection) as captured:
        rows = access_review.person(alice, now=timezone.now())
    assert {r.resource_name for r in rows} == {"Notes", "Payments"}
    reads = [q["sql"] for q in captured if 'FROM "authserver_resource"' in q["sql"]]
    assert reads
    assert all("WHERE" in sql for sql in reads), reads


def test_the_tool_review_suggests_only_the_chosen_servers_tools(admin_client, world):
    """Every server's every tool in one datalist was half a million options at 10,000 MCP
    servers with 50 tools each."""
    *_, notes, pay = world
    page = admin_client.get(
        reverse("admin:access_tool_review"), {"resource": pay.pk, "tool": "payments.refund"}
    ).content.decode()
    assert '<option value="payments.list">' in page
    assert '<option value="read_note">' not in page  # a tool of Notes, not chosen
    assert notes.name in page  # still a server to choose
