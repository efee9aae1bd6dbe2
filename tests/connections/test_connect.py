"""Connecting an upstream account: code flow with PKCE and state, tokens stored encrypted."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from authserver.models import AuditEvent
from connections import vault
from connections.models import Connection
from tests.connections.conftest import connect, connection_of

pytestmark = pytest.mark.django_db


def test_connect_uses_pkce_s256_and_state(client, user, provider):
    client.force_login(user)
    start = client.post("/accounts/connections/upstream/connect")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32
    assert query["client_id"] == provider.client_id


def test_connecting_stores_tokens_encrypted_and_usable(client, user, provider, upstream):
    client.force_login(user)
    response = connect(client, upstream)
    assert response.status_code == 302
    conn = connection_of(user, provider)
    assert conn.status == Connection.Status.ACTIVE
    assert conn.scopes == "api:read api:write"
    access = vault.open_(conn, "access_token_encrypted")
    refresh = vault.open_(conn, "refresh_token_encrypted")
    assert access
    assert refresh
    assert access not in conn.access_token_encrypted
    assert refresh not in conn.refresh_token_encrypted
    assert upstream.call_api(access).json()["sub"] == "alice"
    assert AuditEvent.objects.filter(kind="connection.connected", user_id=str(user.pk)).exists()


def test_callback_with_a_foreign_state_is_refused(client, user, provider, upstream):
    client.force_login(user)
    start = client.post("/accounts/connections/upstream/connect")
    back = upstream.sign_in(start["Location"])
    back["state"] = "forged-" + back["state"][7:]
    client.get("/accounts/connections/callback", back)
    assert not Connection.objects.filter(user=user).exists()


def test_callback_state_is_single_use(client, user, provider, upstream):
    client.force_login(user)
    start = client.post("/accounts/connections/upstream/connect")
    back = upstream.sign_in(start["Location"])
    client.get("/accounts/connections/callback", back)
    Connection.objects.all().delete()
    client.get("/accounts/connections/callback", back)  # replayed
    assert not Connection.objects.filter(user=user).exists()


def test_connections_page_shows_status_scopes_and_servers(client, user, provider, upstream, world):
    connect(client, upstream)
    page = client.get("/accounts/connections/").content.decode()
    assert "Upstream Test API" in page
    assert "api:read" in page
    assert world["resource"].name in page
    assert "Active" in page


def test_connections_page_needs_sign_in(client):
    response = client.get("/accounts/connections/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
