"""``bin/manage connection_policy``: list, set (create or update) and delete the policies
that let an MCP server vend users' upstream tokens; each change audited; a bad request says
exactly what is wrong and changes nothing."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from authserver.models import AuditEvent
from connections.models import ConnectionPolicy
from tests.connections.conftest import connect, vend
from tests.factories import MCP, make_client

pytestmark = pytest.mark.django_db


def _run(*args) -> list[dict]:
    out = io.StringIO()
    call_command("connection_policy", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _set(server, *extra, scopes="api:read"):
    return _run(
        "set",
        "--client",
        server.client_id,
        "--resource",
        MCP,
        "--provider",
        "upstream",
        "--scopes",
        scopes,
        *extra,
    )


def test_a_policy_set_from_the_command_line_lets_the_mcp_server_vend(client, world, upstream):
    ConnectionPolicy.objects.all().delete()
    connect(client, upstream)
    assert vend(client, world["auth"], world["user_token"]).json()["error"] == "invalid_grant"
    assert _set(world["server"]) == [
        {"policy": "created", "provider": "upstream", "scopes": "api:read", "enabled": True}
    ]
    assert vend(client, world["auth"], world["user_token"]).status_code == 200
    created = AuditEvent.objects.get(kind="connection.policy.created")
    assert (created.actor, created.client_id, created.resource) == (
        "manage.py connection_policy",
        world["server"].client_id,
        MCP,
    )
    assert _run("list") == [
        {
            "client": world["server"].client_id,
            "resource": MCP,
            "provider": "upstream",
            "scopes": "api:read",
            "enabled": True,
        }
    ]


def test_setting_again_updates_and_an_identical_set_changes_nothing(world):
    assert _set(world["server"], scopes="api:read api:write")[0]["policy"] == "updated"
    assert _set(world["server"], scopes="api:read api:write")[0]["policy"] == "unchanged"
    assert _set(world["server"], "--disabled")[0] == {
        "policy": "updated",
        "provider": "upstream",
        "scopes": "api:read",
        "enabled": False,
    }
    assert AuditEvent.objects.filter(kind="connection.policy.updated").count() == 2


def test_deleting_the_policy_stops_vending(client, world, upstream):
    connect(client, upstream)
    args = ("--client", world["server"].client_id, "--resource", MCP, "--provider", "upstream")
    assert _run("delete", *args) == [{"policy": "deleted"}]
    assert vend(client, world["auth"], world["user_token"]).json()["error"] == "invalid_grant"
    assert AuditEvent.objects.get(kind="connection.policy.deleted").detail["scopes"] == "api:read"
    with pytest.raises(CommandError, match="no policy lets"):
        _run("delete", *args)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client": "nobody"}, "no client with client_id 'nobody'"),
        ({"provider": "gitlab"}, "no upstream provider 'gitlab' \\(there are: upstream\\)"),
        ({"resource": "https://other.example/mcp"}, "no MCP server registered"),
        ({"scopes": "admin"}, "upstream is asked only for api:read api:write; never granted"),
        ({"scopes": 'api:read "x"'}, "not scope tokens"),
        ({"scopes": " "}, "at least one upstream scope"),
        ({"client": "public"}, "is public"),
        ({"client": "no-exchange"}, "lacks the grant type"),
    ],
)
def test_bad_policy_says_what_is_wrong_and_changes_nothing(world, change, message):
    public, _ = make_client(confidential=False, grant_types=("authorization_code",))
    plain, _ = make_client(grant_types=("client_credentials",))
    clients = {"public": public.client_id, "no-exchange": plain.client_id}
    values = {
        "client": world["server"].client_id,
        "resource": MCP,
        "provider": "upstream",
        "scopes": "api:write",
        **change,
    }
    values["client"] = clients.get(values["client"], values["client"])
    before = list(ConnectionPolicy.objects.values_list("scopes", flat=True))
    with pytest.raises(CommandError, match=message):
        _run("set", *[a for name, v in values.items() for a in (f"--{name}", v)])
    assert list(ConnectionPolicy.objects.values_list("scopes", flat=True)) == before
    assert not AuditEvent.objects.filter(kind__startswith="connection.policy").exists()
