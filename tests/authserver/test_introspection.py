"""RFC 7662 introspection: resource servers learn only about their own tokens."""

from __future__ import annotations

import base64

import pytest

from authserver.models import AccessToken
from tests.factories import MCP, OTHER_MCP, make_client, make_resource
from tests.support.http import basic

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(client):
    resource = make_resource(MCP)
    other = make_resource(OTHER_MCP)
    machine, machine_secret = make_client(access={resource: "tools:read", other: "tools:read"})
    rs, rs_secret = make_client(name="mcp server", access={})
    resource.introspection_client = rs
    resource.save()
    other_rs, other_secret = make_client(name="other server", access={})
    other.introspection_client = other_rs
    other.save()
    token = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP, "scope": "tools:read"},
        HTTP_AUTHORIZATION=basic(machine.client_id, machine_secret),
    ).json()["access_token"]
    return {
        "token": token,
        "rs": basic(rs.client_id, rs_secret),
        "other_rs": basic(other_rs.client_id, other_secret),
        "machine": basic(machine.client_id, machine_secret),
        "machine_id": machine.client_id,
    }


def introspect(client, token, auth=None):
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.post("/introspect", {"token": token}, **extra)


def test_resource_server_learns_about_its_own_token(client, setup):
    response = introspect(client, setup["token"], setup["rs"])
    assert response.status_code == 200
    body = response.json()
    assert body["active"] is True
    assert body["aud"] == MCP
    assert body["client_id"] == setup["machine_id"]
    assert body["scope"] == "tools:read"
    assert "no-store" in response["Cache-Control"]


def test_unauthenticated_caller_gets_401_and_learns_nothing(client, setup):
    response = introspect(client, setup["token"])
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "resource server authentication failed",
    }
    assert response["WWW-Authenticate"].startswith("Basic ")


def test_wrong_secret_is_401(client, setup):
    rs_id = base64.b64decode(setup["rs"].split()[1]).decode().split(":")[0]
    assert introspect(client, setup["token"], basic(rs_id, "nope")).status_code == 401


def test_another_resources_server_sees_inactive(client, setup):
    assert introspect(client, setup["token"], setup["other_rs"]).json() == {"active": False}


def test_a_client_that_is_no_resource_server_sees_inactive(client, setup):
    assert introspect(client, setup["token"], setup["machine"]).json() == {"active": False}


def test_revoked_and_unknown_tokens_are_inactive(client, setup):
    AccessToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert introspect(client, setup["token"], setup["rs"]).json() == {"active": False}
    assert introspect(client, "not-a-token", setup["rs"]).json() == {"active": False}


def test_introspection_is_post_only(client, setup):
    assert client.get("/introspect").status_code == 405


def test_introspection_of_a_sqlite_row_with_naive_datetimes_answers():
    """The embedded default (SQLite) returns a raw SELECT's datetimes naive, in UTC: comparing
    them with an aware now raised TypeError, and every introspection answered server_error."""
    from datetime import UTC, datetime, timedelta

    from authserver.introspection.service import introspect_row

    now = datetime.now(UTC)
    naive = now.replace(tzinfo=None)
    row = ("tools:read", naive + timedelta(minutes=5), naive, None, '["https://mcp.example.com/mcp"]',
           "jti-1", "", naive, 7, "client-1", True, None)  # fmt: skip
    claims = introspect_row(
        row, audiences=frozenset({"https://mcp.example.com/mcp"}), issuer="x", now=now
    )
    assert claims["active"] is True
    assert claims["exp"] == int((now + timedelta(minutes=5)).timestamp())
    expired = (row[0], naive - timedelta(seconds=1), *row[2:])
    assert introspect_row(expired, audiences=frozenset({row[4][2:-2]}), issuer="x", now=now) == {
        "active": False
    }
