"""Client credentials (RFC 6749 §4.4) with audience-bound RFC 9068 JWTs (RFC 8707)."""

from __future__ import annotations

import json

import pytest
from jwcrypto import jwk, jws

from authserver.keys import keyring as keys
from authserver.models import AccessToken
from clients.models import Client
from tests.factories import MCP, OTHER_MCP, make_client, make_resource
from tests.support.http import basic

pytestmark = pytest.mark.django_db


@pytest.fixture
def resource():
    return make_resource()


@pytest.fixture
def machine(resource):
    return make_client(access={resource: "tools:read tools:write"})


def token_request(client, creds, **data):
    c, secret = creds
    return client.post(
        "/token",
        {"grant_type": "client_credentials", **data},
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    )


def decode(token: str) -> tuple[dict, dict]:
    parsed = jws.JWS()
    parsed.deserialize(token)
    jwks = jwk.JWKSet.from_json(json.dumps(keys.jwks_document()))
    parsed.verify(jwks.get_key(parsed.jose_header["kid"]), alg=parsed.jose_header["alg"])
    return parsed.jose_header, json.loads(parsed.payload)


def test_issues_rfc9068_jwt_bound_to_the_requested_resource(client, machine):
    response = token_request(client, machine, resource=MCP, scope="tools:read")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "tools:read"
    assert "refresh_token" not in body
    assert response["Cache-Control"] == "no-store"
    header, claims = decode(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["kid"] == keys.active_key().kid
    assert claims["aud"] == MCP
    assert claims["iss"] == "http://127.0.0.1:8000"
    assert claims["sub"] == machine[0].client_id  # RFC 9068 §2.2: the client itself
    assert claims["client_id"] == machine[0].client_id
    assert claims["scope"] == "tools:read"
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 300
    assert set(claims) >= {"iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti"}


def test_token_row_records_jti_kid_and_resource_but_never_the_token(client, machine):
    body = token_request(client, machine, resource=MCP).json()
    _, claims = decode(body["access_token"])
    row = AccessToken.objects.get(jti=claims["jti"])
    assert row.resource == [MCP]
    assert row.kid == keys.active_key().kid
    assert row.token == ""  # RFC 9700 hashed storage: only the checksum is kept
    assert body["access_token"] not in json.dumps(list(AccessToken.objects.values()), default=str)
    assert int(row.expires.timestamp()) == claims["exp"]


def test_aud_is_the_registered_identifier_whatever_form_the_client_sent(client, machine):
    body = token_request(client, machine, resource="HTTPS://MCP.EXAMPLE.COM:443/mcp").json()
    assert decode(body["access_token"])[1]["aud"] == MCP


def test_client_secret_post_is_accepted(client, machine):
    c, secret = machine
    response = client.post(
        "/token",
        {
            "grant_type": "client_credentials",
            "client_id": c.client_id,
            "client_secret": secret,
            "resource": MCP,
        },
    )
    assert response.status_code == 200


def test_resource_lifetime_sets_expiry(client, machine, resource):
    resource.access_token_lifetime = 60
    resource.save()
    body = token_request(client, machine, resource=MCP).json()
    assert body["expires_in"] == 60


def test_omitted_scope_gives_allowed_default_scopes(client, machine):
    assert token_request(client, machine, resource=MCP).json()["scope"] == "tools:read"


def test_omitted_resource_uses_the_clients_single_allowed_resource(client, machine):
    body = token_request(client, machine).json()
    assert decode(body["access_token"])[1]["aud"] == MCP


def test_omitted_resource_with_two_allowed_resources_is_invalid_target(client, resource):
    other = make_resource(OTHER_MCP)
    creds = make_client(access={resource: "tools:read", other: "tools:read"})
    response = token_request(client, creds)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


@pytest.mark.parametrize(
    "bad_resource",
    [
        "https://unknown.example.com/mcp",
        "/mcp",
        "https://mcp.example.com/mcp#frag",
        "mcp.example.com",
    ],
)
def test_unknown_relative_or_fragment_resource_is_invalid_target(client, machine, bad_resource):
    before = AccessToken.objects.count()
    response = token_request(client, machine, resource=bad_resource)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
    assert AccessToken.objects.count() == before  # a rejected request changes nothing


def test_two_different_resources_are_invalid_target(client, resource):
    other = make_resource(OTHER_MCP)
    c, secret = make_client(access={resource: "tools:read", other: "tools:read"})
    response = client.post(
        "/token",
        f"grant_type=client_credentials&resource={MCP}&resource={OTHER_MCP}",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(c.client_id, secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


def test_disabled_resource_is_invalid_target(client, machine, resource):
    resource.enabled = False
    resource.save()
    assert token_request(client, machine, resource=MCP).json()["error"] == "invalid_target"


def test_resource_the_client_is_not_allowed_is_invalid_target(client, machine):
    make_resource(OTHER_MCP)
    response = token_request(client, machine, resource=OTHER_MCP)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


def test_scope_beyond_the_clients_allowance_is_invalid_scope(client, resource):
    creds = make_client(access={resource: "tools:read"})
    response = token_request(client, creds, resource=MCP, scope="tools:read tools:write")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_scope_the_resource_does_not_define_is_invalid_scope(client, machine):
    response = token_request(client, machine, resource=MCP, scope="admin")
    assert response.json()["error"] == "invalid_scope"


def test_offline_access_is_refused_without_a_user(client, machine):
    response = token_request(client, machine, resource=MCP, scope="offline_access")
    assert response.json()["error"] == "invalid_scope"


def test_public_client_is_unauthorized_client(client, resource):
    public, _ = make_client(confidential=False, grant_types=("authorization_code",))
    response = client.post(
        "/token",
        {"grant_type": "client_credentials", "client_id": public.client_id, "resource": MCP},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_wrong_secret_is_invalid_client_401_with_basic_challenge(client, machine):
    c, _ = machine
    response = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP},
        HTTP_AUTHORIZATION=basic(c.client_id, "wrong"),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic ")


def test_unknown_client_is_invalid_client(client, resource):
    response = client.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP},
        HTTP_AUTHORIZATION=basic("nobody", "nothing"),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_disabled_client_gets_no_token(client, machine):
    c, _ = machine
    Client.objects.filter(pk=c.pk).update(is_active=False)
    assert token_request(client, machine, resource=MCP).status_code == 401


@pytest.mark.parametrize(
    "grant_type", ["password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"]
)
def test_grants_outside_oauth21_are_unsupported(client, machine, grant_type):
    response = token_request(client, machine, resource=MCP, grant_type=grant_type)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_client_secret_is_stored_as_keyed_hash_not_plaintext(machine):
    c, secret = machine
    stored = Client.objects.get(pk=c.pk).client_secret
    assert stored.startswith("hmac-sha256$")
    assert secret not in stored
    assert len(secret) == 64  # 256 bits, hex


def test_admin_form_plaintext_secret_is_hashed_on_save():
    c = Client(name="x", client_type="confidential", client_secret="plain-text-secret")
    c.save()
    assert c.client_secret.startswith("hmac-sha256$")
    public = Client(name="p", client_type="public", client_secret="whatever")
    public.save()
    assert public.client_secret == ""


def test_tokens_are_issued_while_redis_is_down(client, machine, settings, unused_tcp_port):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{unused_tcp_port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    response = token_request(client, machine, resource=MCP)
    assert response.status_code == 200
    assert decode(response.json()["access_token"])[1]["aud"] == MCP
