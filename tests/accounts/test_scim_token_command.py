"""``bin/manage scim_token``: create for a provider (printed once), list without secrets,
revoke; a refused request says exactly why and changes nothing."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from accounts.scim.models import ScimToken
from authserver.models import AuditEvent

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command("scim_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _users(client, token: str) -> int:
    return client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def test_created_token_is_printed_once_and_provisions_for_its_provider(client):
    token = _run("create", "Okta provisioning", "--provider", "okta").strip()
    assert token.startswith("scim_")
    assert _users(client, token) == 200
    row = ScimToken.objects.get()
    assert (row.name, row.provider) == ("Okta provisioning", "okta")
    created = AuditEvent.objects.get(kind="scim.token.created")
    assert created.detail == {"id": row.pk, "provider": "okta"}
    assert created.actor == "manage.py scim_token"
    listed = _run("list") + _run("list", "--json")
    assert token not in listed
    assert row.digest not in listed
    assert json.loads(_run("list", "--json"))[0]["provider"] == "okta"


def test_revoked_token_is_refused_and_revoking_again_changes_nothing(client):
    token = _run("create", "Entra", "--provider", "entra").strip()
    row = ScimToken.objects.get()
    assert "revoked SCIM token" in _run("revoke", str(row.pk))
    assert _users(client, token) == 401
    before = AuditEvent.objects.count()
    with pytest.raises(CommandError, match=f"SCIM token {row.pk} was already revoked"):
        _run("revoke", str(row.pk))
    with pytest.raises(CommandError, match="no SCIM token with id 999"):
        _run("revoke", "999")
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("name", "provider", "message"),
    [
        ("Okta", "Okta Inc", "is not a sign-in provider id"),
        ("   ", "okta", "the name is empty"),
        ("x" * 101, "okta", "longer than 100 characters"),
    ],
)
def test_bad_token_request_says_why_and_creates_nothing(name, provider, message):
    with pytest.raises(CommandError, match=message):
        _run("create", name, "--provider", provider)
    assert not ScimToken.objects.exists()
    assert not AuditEvent.objects.exists()


def test_admin_and_command_share_one_revocation(admin_client):
    _run("create", "Okta", "--provider", "okta")
    row = ScimToken.objects.get()
    admin_client.post(
        "/admin/accounts/scimtoken/",
        {"action": "revoke", "_selected_action": [row.pk]},
    )
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert AuditEvent.objects.filter(kind="scim.token.revoked").count() == 1
