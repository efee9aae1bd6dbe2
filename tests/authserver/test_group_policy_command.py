"""``bin/manage mcp_server_groups``: an MCP server's (or one scope's) allowed groups, set,
added, removed and cleared from the command line, audited and enforced like the admin's
form; a bad name says exactly what is wrong and changes nothing."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from authserver.models import AccessToken, AuditEvent, Resource, Scope
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def resource():
    return make_resource(defaults=("tools:read",))


@pytest.fixture
def groups():
    return {n: Group.objects.create(name=n) for n in ("finance", "engineering", "legal")}


def _run(*args) -> dict:
    out = io.StringIO()
    call_command("mcp_server_groups", *args, stdout=out)
    return json.loads(out.getvalue())


def _live_token(client, user) -> AccessToken:
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1:45678/callback",
        skip_authorization=True,
    )
    client.force_login(user)
    code, verifier, _ = get_code(client, app.client_id, resource=MCP, scope="tools:read")
    assert exchange(client, app.client_id, code, verifier).status_code == 200
    return AccessToken.objects.get(user=user)


def test_set_add_remove_and_clear_the_servers_groups(resource, groups):
    assert _run(MCP)["allowed_groups"] == []
    assert _run(MCP, "--set", "finance", "legal")["allowed_groups"] == ["finance", "legal"]
    assert _run(MCP, "--add", "engineering")["allowed_groups"] == [
        "engineering",
        "finance",
        "legal",
    ]
    assert _run(MCP, "--remove", "legal")["allowed_groups"] == ["engineering", "finance"]
    assert _run(MCP, "--clear")["allowed_groups"] == []
    changes = AuditEvent.objects.filter(kind="policy.changed").order_by("id")
    assert {e.actor for e in changes} == {"manage.py mcp_server_groups"}
    assert changes.last().detail == {"allowed_groups": []}


def test_a_scopes_groups_are_its_own(resource, groups):
    result = _run(MCP, "--scope", "tools:write", "--set", "engineering")
    assert result == {"target": f"{MCP} scope tools:write", "allowed_groups": ["engineering"]}
    assert list(resource.allowed_groups.all()) == []
    scope = Scope.objects.get(resource=resource, name="tools:write")
    assert [g.name for g in scope.allowed_groups.all()] == ["engineering"]
    assert AuditEvent.objects.get(kind="policy.changed").scope == "tools:write"


def test_changing_the_groups_cuts_off_who_is_no_longer_allowed(client, user, resource, groups):
    token = _live_token(client, user)
    _run(MCP, "--set", "finance")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_replacing_groups_never_revokes_a_member_of_the_old_and_the_new(
    client, user, resource, groups
):
    """From {finance, legal} to {engineering, legal}: a user in finance and engineering
    may reach the server before and after, so no intermediate step may cut them off (Django's
    ``set`` removes first, which would have revoked their token)."""
    _run(MCP, "--set", "finance", "legal")
    user.groups.add(groups["finance"], groups["engineering"])
    token = _live_token(client, user)
    _run(MCP, "--set", "engineering", "legal")
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((MCP, "--set", "finance", "nobody"), "no such group: nobody"),
        ((MCP, "--remove", "legal"), "not allowed on .* now: legal"),
        ((MCP, "--scope", "tools:delete", "--add", "finance"), "has no scope 'tools:delete'"),
        (("https://unknown.example/mcp", "--add", "finance"), "no MCP server registered"),
        (("not a uri", "--add", "finance"), "must not contain spaces"),
    ],
)
def test_bad_request_says_what_is_wrong_and_changes_nothing(resource, groups, args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)
    assert not Resource.allowed_groups.through.objects.exists()
    assert not AuditEvent.objects.exists()
