"""The client form edits RFC 7591 lists as checkboxes, offers only what this server issues,
keeps django-oauth-toolkit's single grant type in step, and never shows a secret."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from authserver.models import AccessToken, AuditEvent
from clients.admin_forms import ClientForm
from clients.models import Client
from tests.factories import make_client

pytestmark = [pytest.mark.django_db]

FORM = {
    "name": "Notes agent",
    "client_type": Client.CLIENT_PUBLIC,
    "application_type": "native",
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "redirect_uris": "http://127.0.0.1/callback",
    "contacts": "ops@example.com\nsecurity@example.com",
    "is_active": True,
}


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def test_add_form_offers_no_legacy_grant_dropdown_and_no_json_lists(staff):
    page = staff.get(reverse("admin:clients_client_add")).content.decode()
    assert 'name="authorization_grant_type"' not in page
    assert "Resource owner password" not in page
    assert "Implicit" not in page
    # authorization_code, refresh_token, client_credentials, token exchange, and CIBA (an MCP
    # server a person approves calls for: docs/APPROVALS.md); never password or implicit.
    assert page.count('type="checkbox" name="grant_types"') == 5
    assert 'value="urn:openid:params:grant-type:ciba"' in page
    assert 'type="checkbox" name="response_types"' in page
    assert 'name="client_secret"' not in page
    assert 'name="algorithm"' not in page


def test_checked_grant_types_are_stored_as_the_rfc7591_list_and_drive_dot_field():
    form = ClientForm(data=FORM)
    assert form.is_valid(), form.errors
    client = form.save()
    assert client.grant_types == ["authorization_code", "refresh_token"]
    assert client.response_types == ["code"]
    assert client.contacts == ["ops@example.com", "security@example.com"]
    assert client.authorization_grant_type == Client.GRANT_AUTHORIZATION_CODE
    machine = ClientForm(
        data={
            **FORM,
            "client_type": Client.CLIENT_CONFIDENTIAL,
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": "",
        }
    )
    assert machine.is_valid(), machine.errors
    assert machine.save().authorization_grant_type == Client.GRANT_CLIENT_CREDENTIALS


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"grant_types": ["implicit"]}, "grant_types"),  # RFC 9700 §2.1.2: never offered
        ({"grant_types": ["client_credentials"], "response_types": []}, "grant_types"),
        ({"grant_types": ["refresh_token"]}, "grant_types"),
        ({"response_types": []}, "response_types"),
        ({"token_endpoint_auth_method": "client_secret_post"}, "token_endpoint_auth_method"),
        ({"redirect_uris": ""}, "redirect_uris"),
    ],
)
def test_policy_contradictions_are_refused_on_the_field(change, field):
    form = ClientForm(data={**FORM, **change})
    assert not form.is_valid()
    assert field in form.errors


def test_revoke_tokens_action_revokes_but_keeps_the_client_usable(staff, user):
    target, _ = make_client(
        confidential=False, grant_types=("authorization_code",), redirect_uris="http://127.0.0.1/cb"
    )
    expires = timezone.now() + timedelta(minutes=5)
    token = AccessToken.objects.create(
        application=target, user=user, token=uuid.uuid4().hex, expires=expires
    )
    response = staff.post(
        reverse("admin:clients_client_changelist"),
        {"action": "revoke_client_tokens", "_selected_action": [target.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    target.refresh_from_db()
    assert token.revoked_at is not None
    assert target.is_active is True


def test_changelist_key_columns_are_present_and_long_ids_shortened(staff):
    long_id = "https://app.example.com/oauth/" + "x" * 80 + "/client-metadata.json"
    make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="https://app.example.com/cb",
        client_id=long_id,
    )
    page = staff.get(reverse("admin:clients_client_changelist")).content.decode()
    for column in ("verified", "active", "live tokens", "grants", "last used", "copies"):
        assert f">{column.capitalize()}<" in page or column in page.lower()
    assert f'title="{long_id}"' in page
    assert f">{long_id}<" not in page


def test_failed_basic_authentication_is_audited_with_the_presented_client_id(client):
    import base64

    target, _ = make_client()
    credentials = base64.b64encode(f"{target.client_id}:wrong".encode()).decode()
    response = client.post(
        "/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=f"Basic {credentials}",
    )
    assert response.status_code == 401
    event = AuditEvent.objects.get(kind="client.auth_failed")
    assert event.client_id == target.client_id
    assert "wrong" not in str(event.detail)


def test_scope_tools_round_trip_through_the_single_line_input():
    from authserver.admin import ScopeForm
    from tests.factories import make_resource

    scope = make_resource().scopes.first()
    scope.tools = ["list_notes", "add_note"]
    scope.save()
    form = ScopeForm(instance=scope)
    assert 'value="list_notes, add_note"' in str(form["tools"])
    bound = ScopeForm(
        data={"name": scope.name, "description": "d", "tools": "list_notes, add_note,search"},
        instance=scope,
    )
    assert bound.is_valid(), bound.errors
    assert bound.save().tools == ["list_notes", "add_note", "search"]


def test_issue_new_secret_shows_it_once_with_no_store_and_the_old_one_stops(staff):
    from authserver import client_secrets as secrets

    target, old = make_client()
    response = staff.post(
        reverse("admin:clients_client_changelist"),
        {"action": "issue_new_secret", "_selected_action": [target.pk]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    target.refresh_from_db()
    page = response.content.decode()
    shown = page.split('<pre class="secret">', 1)[1].split("</pre>", 1)[0]
    assert secrets.check_secret(shown, target.client_secret)
    assert not secrets.check_secret(old, target.client_secret)
    event = AuditEvent.objects.get(kind="client.secret_rotated")
    assert event.client_id == target.client_id
    assert shown not in str(event.detail)
    assert (
        shown
        not in staff.get(reverse("admin:clients_client_change", args=[target.pk])).content.decode()
    )


def test_issue_new_secret_refuses_public_clients(staff):
    target, _ = make_client(
        confidential=False, grant_types=("authorization_code",), redirect_uris="http://127.0.0.1/cb"
    )
    response = staff.post(
        reverse("admin:clients_client_changelist"),
        {"action": "issue_new_secret", "_selected_action": [target.pk]},
        follow=True,
    )
    assert "exactly one confidential client" in response.content.decode()
    target.refresh_from_db()
    assert target.client_secret == ""
