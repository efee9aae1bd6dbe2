"""RFC 7592: read, update and delete a registration with its registration access token."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from authserver.models import AccessToken, Grant, RefreshToken
from clients.models import Client
from tests.clients.conftest import MCP_PYTHON_SDK_BODY
from tests.factories import make_client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.clients.urls")]


@pytest.fixture
def registered(register):
    return register(MCP_PYTHON_SDK_BODY).json()


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def put(client, info, body, token=None):
    return client.put(
        f"/register/{info['client_id']}",
        data=json.dumps(body),
        content_type="application/json",
        **bearer(token or info["registration_access_token"]),
    )


def assert_invalid_token(response):
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"] == "invalid_token"


def test_rfc7592_round_trip_register_read_update_delete(client, registered, user):
    uri = f"/register/{registered['client_id']}"
    token = registered["registration_access_token"]

    read = client.get(uri, **bearer(token))
    assert read.status_code == 200
    assert read.json()["client_name"] == MCP_PYTHON_SDK_BODY["client_name"]
    assert read.json()["registration_client_uri"] == registered["registration_client_uri"]

    update = {**MCP_PYTHON_SDK_BODY, "client_id": registered["client_id"], "client_name": "New"}
    update["redirect_uris"] = ["http://127.0.0.1:9000/cb", "cursor://app.example/cb"]
    updated = put(client, registered, update)
    assert updated.status_code == 200, updated.content
    assert updated.json()["client_name"] == "New"
    token = updated.json()["registration_access_token"]  # RFC 7592 §3: rotated on update
    stored = Client.objects.get(client_id=registered["client_id"])
    assert stored.redirect_uris == "http://127.0.0.1:9000/cb cursor://app.example/cb"

    # Its grants and tokens go with it.
    AccessToken.objects.create(
        application=stored, user=user, token="t", expires=timezone.now() + timedelta(minutes=5)
    )
    deleted = client.delete(uri, **bearer(token))
    assert deleted.status_code == 204
    assert not Client.objects.filter(client_id=registered["client_id"]).exists()
    assert not AccessToken.objects.exists()
    assert_invalid_token(client.get(uri, **bearer(token)))


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_wrong_or_missing_registration_token_is_401_invalid_token(client, registered, method):
    uri = f"/register/{registered['client_id']}"
    call = getattr(client, method)
    assert_invalid_token(call(uri, **bearer("wrong")))
    assert_invalid_token(call(uri))
    assert_invalid_token(
        call(uri, HTTP_AUTHORIZATION=f"Basic {registered['registration_access_token']}")
    )
    assert Client.objects.filter(client_id=registered["client_id"]).exists()


def test_another_clients_registration_token_is_401(client, register, registered):
    other = register({**MCP_PYTHON_SDK_BODY, "client_name": "other"}).json()
    uri = f"/register/{registered['client_id']}"
    assert_invalid_token(client.get(uri, **bearer(other["registration_access_token"])))


def test_admin_registered_client_cannot_be_managed_through_rfc7592(client):
    admin_client, _ = make_client()
    assert_invalid_token(client.get(f"/register/{admin_client.client_id}", **bearer("x")))


def test_unknown_client_is_401_not_404(client):
    assert_invalid_token(client.get("/register/does-not-exist", **bearer("x")))


def test_put_with_another_client_id_is_invalid_client_metadata(client, registered):
    response = put(client, registered, {**MCP_PYTHON_SDK_BODY, "client_id": "someone-else"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_put_without_client_id_is_invalid_client_metadata(client, registered):
    response = put(client, registered, MCP_PYTHON_SDK_BODY)
    assert response.json()["error"] == "invalid_client_metadata"


def test_put_revalidates_like_a_registration(client, registered):
    body = {**MCP_PYTHON_SDK_BODY, "client_id": registered["client_id"]}
    body["redirect_uris"] = ["javascript:alert(1)"]
    response = put(client, registered, body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    stored = Client.objects.get(client_id=registered["client_id"])
    assert stored.redirect_uris == "http://127.0.0.1:34439/callback"


def test_put_omitted_members_are_removed(client, register):
    info = register({**MCP_PYTHON_SDK_BODY, "client_uri": "https://app.example.com"}).json()
    body = {**MCP_PYTHON_SDK_BODY, "client_id": info["client_id"]}
    del body["scope"]
    response = put(client, info, body)
    assert "client_uri" not in response.json()
    assert "scope" not in response.json()
    stored = Client.objects.get(client_id=info["client_id"])
    assert stored.client_uri == ""
    assert stored.scope == ""


def test_put_cannot_turn_a_public_client_confidential(client, registered):
    body = {**MCP_PYTHON_SDK_BODY, "client_id": registered["client_id"]}
    body["token_endpoint_auth_method"] = "client_secret_basic"
    response = put(client, registered, body)
    assert response.json()["error"] == "invalid_client_metadata"


def test_put_with_a_client_secret_that_does_not_match_is_refused(client, register):
    doc = {k: v for k, v in MCP_PYTHON_SDK_BODY.items() if k != "token_endpoint_auth_method"}
    info = register(doc).json()
    body = {**doc, "client_id": info["client_id"], "client_secret": "chosen-by-the-client"}
    assert put(client, info, body).json()["error"] == "invalid_client_metadata"
    body["client_secret"] = info["client_secret"]
    response = put(client, info, body)
    assert response.status_code == 200
    assert "client_secret" not in response.json()  # never re-sent
    assert response.json()["client_secret_expires_at"] == 0


def test_put_malformed_json_is_400_json(client, registered):
    response = client.put(
        f"/register/{registered['client_id']}",
        data="{",
        content_type="application/json",
        **bearer(registered["registration_access_token"]),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_get_returns_no_secrets(client, registered):
    body = client.get(
        f"/register/{registered['client_id']}", **bearer(registered["registration_access_token"])
    ).json()
    assert "registration_access_token" not in body
    assert "client_secret" not in body


def test_delete_cascades_to_grants_and_refresh_tokens(client, registered, user):
    stored = Client.objects.get(client_id=registered["client_id"])
    now = timezone.now()
    Grant.objects.create(
        application=stored,
        user=user,
        code="c",
        expires=now + timedelta(minutes=1),
        redirect_uri="http://127.0.0.1:34439/callback",
    )
    RefreshToken.objects.create(application=stored, user=user, token="r")
    response = client.delete(
        f"/register/{registered['client_id']}", **bearer(registered["registration_access_token"])
    )
    assert response.status_code == 204
    assert not Grant.objects.exists()
    assert not RefreshToken.objects.exists()
