"""Operator commands: idempotent, and the secret is shown exactly once."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from authserver import client_secrets as secrets
from authserver.models import Resource, ResourceAccess, Scope
from clients.models import Client

pytestmark = pytest.mark.django_db

URI = "https://mcp.example.com/mcp"


def run(*args, **kwargs) -> dict:
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return json.loads(out.getvalue().strip().splitlines()[-1])


def add_resource():
    return run(
        "add_resource",
        URI,
        "--name",
        "Notes",
        "--scope",
        "notes:read=Read your notes",
        "--scope",
        "notes:write=Change your notes",
        "--default-scope",
        "notes:read",
    )


def test_add_resource_twice_updates_never_duplicates():
    assert add_resource()["created"] is True
    assert add_resource()["created"] is False
    assert Resource.objects.count() == 1
    assert Scope.objects.count() == 2
    assert Scope.objects.get(name="notes:read").is_default


def test_add_resource_refuses_an_undeclared_default_scope():
    with pytest.raises(CommandError):
        call_command("add_resource", URI, "--name", "x", "--default-scope", "nope")


def test_add_resource_refuses_a_fragment():
    with pytest.raises(CommandError):
        call_command("add_resource", URI + "#x", "--name", "x")


def test_add_client_prints_secret_once_and_updates_on_second_run():
    add_resource()
    args = [
        "add_client",
        "--name",
        "ci-bot",
        "--confidential",
        "--grant",
        "client_credentials",
        "--resource",
        URI,
        "--scope",
        "notes:read",
    ]
    first = run(*args)
    assert set(first) == {"client_id", "client_secret", "created"}
    client = Client.objects.get(client_id=first["client_id"])
    assert secrets.check_secret(first["client_secret"], client.client_secret)
    second = run(*args)
    assert second["client_id"] == first["client_id"]
    assert "client_secret" not in second
    assert Client.objects.count() == 1
    assert ResourceAccess.objects.get().scope == "notes:read"


def test_add_client_refuses_client_credentials_for_a_public_client():
    add_resource()
    with pytest.raises(CommandError):
        call_command("add_client", "--name", "x", "--grant", "client_credentials")
