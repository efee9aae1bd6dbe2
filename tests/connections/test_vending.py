"""Vending by RFC 8693 token exchange: who gets the user's upstream token, and who doesn't."""

from __future__ import annotations

import pytest

from authserver.models import AuditEvent, CacheGeneration
from authserver.token_endpoint import hotcache
from clients.models import Client
from connections import vault
from connections.models import Connection
from tests.connections.conftest import connect, connection_of, make_provider, vend
from tests.factories import OTHER_MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code
from tests.support.http import basic

pytestmark = pytest.mark.django_db
CONNECT_PATH = "/accounts/connections/upstream/connect"


def test_vend_returns_the_upstream_token_and_its_remaining_lifetime(
    client, world, user, upstream, provider
):
    connect(client, upstream)
    response = vend(client, world["auth"], world["user_token"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 600
    assert "refresh_token" not in body
    assert response["Cache-Control"] == "no-store"
    assert body["access_token"] == vault.open_(
        connection_of(user, provider), "access_token_encrypted"
    )
    assert upstream.call_api(body["access_token"]).json()["sub"] == "alice"


def test_every_vend_is_audited_with_the_act_chain(client, world, user, upstream):
    connect(client, upstream)
    vend(client, world["auth"], world["user_token"])
    event = AuditEvent.objects.get(kind="connection.vended")
    assert event.user_id == str(user.pk)
    assert event.client_id == world["server"].client_id
    assert event.resource == world["resource"].identifier
    assert event.detail["provider"] == "upstream"
    assert event.detail["act"] == {
        "sub": world["server"].client_id,
        "act": {"sub": world["app"].client_id},
    }
    assert "access_token" not in str(event.detail)


def test_vend_without_a_connection_answers_with_the_connect_url(client, world):
    response = vend(client, world["auth"], world["user_token"])
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert body["error_uri"].split("?")[0].endswith(CONNECT_PATH)
    assert "access_token" not in body


def test_connect_url_opens_a_connect_page_after_sign_in(client, world, user):
    client.logout()
    response = client.get(CONNECT_PATH)
    assert "/accounts/login/" in response["Location"]
    client.force_login(user)
    assert b"Connect Upstream Test API" in client.get(CONNECT_PATH).content


def test_provider_without_a_policy_is_invalid_target(client, world, upstream):
    make_provider(upstream, slug="other")
    connect(client, upstream, slug="other")
    response = vend(client, world["auth"], world["user_token"], audience="other")
    assert response.json()["error"] == "invalid_target"


def test_scope_beyond_the_policy_is_refused(client, world, upstream):
    connect(client, upstream)
    response = vend(client, world["auth"], world["user_token"], scope="api:read api:write")
    assert response.json()["error"] == "invalid_scope"


def test_subject_token_for_another_mcp_server_is_refused(client, world, upstream):
    connect(client, upstream)
    make_resource(OTHER_MCP)
    code, verifier, _ = get_code(
        client, world["app"].client_id, resource=OTHER_MCP, scope="tools:read"
    )
    other = exchange(client, world["app"].client_id, code, verifier).json()["access_token"]
    response = vend(client, world["auth"], other)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "access_token" not in response.json()


def test_public_client_cannot_vend(client, world, upstream):
    connect(client, upstream)
    response = client.post(
        "/token",
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": world["user_token"],
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "audience": "upstream",
            "client_id": world["app"].client_id,
        },
    )
    assert response.json()["error"] == "unauthorized_client"


def test_another_confidential_client_cannot_vend_for_the_server(client, world, upstream):
    connect(client, upstream)
    intruder, secret = make_client(
        name="intruder", grant_types=("urn:ietf:params:oauth:grant-type:token-exchange",)
    )
    response = vend(client, basic(intruder.client_id, secret), world["user_token"])
    assert response.json()["error"] == "invalid_grant"


def test_resource_and_audience_together_are_invalid_request(client, world, upstream):
    connect(client, upstream)
    response = vend(client, world["auth"], world["user_token"], resource=OTHER_MCP)
    assert response.json()["error"] == "invalid_request"


def test_disconnect_stops_vends_and_revokes_upstream(
    client, world, user, upstream, provider, django_capture_on_commit_callbacks
):
    connect(client, upstream)
    conn = connection_of(user, provider)
    refresh = vault.open_(conn, "refresh_token_encrypted")
    access = vend(client, world["auth"], world["user_token"]).json()["access_token"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/accounts/connections/{conn.pk}/disconnect")
    response = vend(client, world["auth"], world["user_token"])
    assert response.json()["error_uri"].split("?")[0].endswith(CONNECT_PATH)
    # RFC 7009 at the provider: both tokens are dead there too, and wiped here.
    assert upstream.refresh_directly(refresh).json()["error"] == "invalid_grant"
    assert upstream.call_api(access).status_code == 401
    conn.refresh_from_db()
    assert conn.status == Connection.Status.DISCONNECTED
    assert conn.refresh_token_encrypted == ""
    assert conn.access_token_encrypted == ""


def test_deactivating_the_user_stops_vends_and_revokes_upstream(
    client, world, user, upstream, provider, django_capture_on_commit_callbacks
):
    connect(client, upstream)
    refresh = vault.open_(connection_of(user, provider), "refresh_token_encrypted")
    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()
    assert connection_of(user, provider).status == Connection.Status.DISCONNECTED
    assert vend(client, world["auth"], world["user_token"]).json()["error"] == "invalid_grant"
    assert upstream.refresh_directly(refresh).json()["error"] == "invalid_grant"


def test_disabling_the_provider_stops_vends_at_once(
    client, world, user, upstream, provider, django_capture_on_commit_callbacks
):
    connect(client, upstream)
    refresh = vault.open_(connection_of(user, provider), "refresh_token_encrypted")
    with django_capture_on_commit_callbacks(execute=True):
        provider.enabled = False
        provider.save()
    assert vend(client, world["auth"], world["user_token"]).json()["error"] == "invalid_target"
    assert connection_of(user, provider).status == Connection.Status.DISCONNECTED
    assert upstream.refresh_directly(refresh).json()["error"] == "invalid_grant"


def test_a_vend_with_a_fresh_token_makes_no_upstream_call_and_few_queries(
    client, world, upstream, django_assert_max_num_queries
):
    connect(client, upstream)
    vend(client, world["auth"], world["user_token"])
    # cache generation, signing key, subject token row, policy, connection, audit INSERT
    with django_assert_max_num_queries(6):
        assert vend(client, world["auth"], world["user_token"]).status_code == 200
    assert upstream.control("stats")["refreshes"] == 0


def _warm_worker_cache(client, world, upstream) -> None:
    """This worker serves one vend, so its per-process cache (hotcache) holds the client."""
    CacheGeneration.objects.get_or_create(id=1)
    hotcache.clear()
    connect(client, upstream)
    assert vend(client, world["auth"], world["user_token"]).status_code == 200


def test_disabled_client_cannot_vend_from_a_stale_worker_cache(client, world, upstream):
    _warm_worker_cache(client, world, upstream)
    # Another worker (or the admin) disables the MCP server's client: a plain UPDATE, no
    # signal in this process; only the database's cache generation changes (its trigger).
    Client.objects.filter(pk=world["server"].pk).update(is_active=False)
    response = vend(client, world["auth"], world["user_token"])
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()


def test_old_secret_after_rotation_cannot_vend_from_a_stale_worker_cache(client, world, upstream):
    _warm_worker_cache(client, world, upstream)
    server = world["server"]
    new_secret = server.set_new_secret()
    Client.objects.filter(pk=server.pk).update(client_secret=server.client_secret)
    response = vend(client, world["auth"], world["user_token"])
    assert response.status_code == 401, response.content
    assert "access_token" not in response.json()
    fresh_auth = basic(server.client_id, new_secret)
    assert vend(client, fresh_auth, world["user_token"]).status_code == 200


def test_disconnected_connection_leaves_the_page_and_its_provider_can_be_connected_again(
    client, world, user, upstream, provider
):
    """docs/CONNECTIONS.md, "Connecting": the page lists live connections; a disconnected
    one moves back among the providers to connect."""
    connect(client, upstream)
    conn = connection_of(user, provider)
    page = client.get("/accounts/connections/").content.decode()
    assert 'class="connection" data-provider="upstream"' in page
    client.post(f"/accounts/connections/{conn.pk}/disconnect")
    page = client.get("/accounts/connections/").content.decode()
    assert 'class="connection"' not in page
    assert "/accounts/connections/upstream/connect" in page
