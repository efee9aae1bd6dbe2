"""Lists that must agree are defined once (docs/JWS.md, "Lists defined once"): grant types,
the loopback rule and the digest stored in place of a token."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AbstractApplication

from accounts.scim.models import ScimToken
from authserver.discovery.openapi_schemas import _METADATA_MEMBERS, TOKEN_REQUEST
from authserver.errors import InvalidRedirectUri, InvalidTarget
from authserver.models import AccessToken
from authserver.protocol.resources import validate_registered_identifier
from authserver.token_endpoint import grant_types
from authserver.token_endpoint.grants import GRANTS, Grant, register
from authserver.token_hash import token_hash
from clients.admin_forms import GRANT_TYPE_CHOICES
from clients.models import Client
from clients.registration import validate_grant_types, validate_redirect_uri
from tests.factories import make_client

# --- grant types -------------------------------------------------------------------------


@pytest.mark.django_db
def test_grant_types_supported_is_the_token_endpoints_registry(client):
    advertised = client.get("/.well-known/oauth-authorization-server").json()
    assert advertised["grant_types_supported"] == list(grant_types.SUPPORTED)
    assert set(GRANTS) == set(grant_types.SUPPORTED)


def test_openapi_token_request_describes_every_served_grant_type():
    described = [v["properties"]["grant_type"]["enum"][0] for v in TOKEN_REQUEST["oneOf"]]
    assert described == list(grant_types.SUPPORTED)


def test_openapi_registration_grant_types_are_from_the_one_list():
    members = _METADATA_MEMBERS["grant_types"]["items"]["enum"]
    assert set(members) <= set(grant_types.SUPPORTED)
    assert set(grant_types.SELF_REGISTERED) <= set(members)


def test_a_grant_not_in_the_one_list_cannot_be_served():
    with pytest.raises(ValueError, match="grant_types"):
        register(type("Device", (Grant,), {"grant_type": "device_code"}))
    assert "device_code" not in GRANTS


def test_dot_identifiers_are_dots_own():
    assert grant_types.DOT_AUTHORIZATION_CODE == AbstractApplication.GRANT_AUTHORIZATION_CODE
    assert grant_types.DOT_CLIENT_CREDENTIALS == AbstractApplication.GRANT_CLIENT_CREDENTIALS
    assert set(grant_types.TO_DOT) <= set(grant_types.SUPPORTED)


def test_admin_form_offers_the_grant_types_of_the_one_list():
    offered = [name for name, _ in GRANT_TYPE_CHOICES]
    assert offered == [g.name for g in grant_types.GRANT_TYPES if g.admin_label]
    assert set(offered) <= set(grant_types.SUPPORTED)


def test_self_registered_clients_get_the_self_registered_grant_types():
    assert validate_grant_types(None) == list(grant_types.SELF_REGISTERED)
    assert validate_grant_types(["authorization_code", "implicit"]) == list(
        grant_types.SELF_REGISTERED
    )


@pytest.mark.parametrize(
    ("names", "dot"),
    [
        (["authorization_code", "refresh_token"], AbstractApplication.GRANT_AUTHORIZATION_CODE),
        (
            ["client_credentials", "authorization_code"],
            AbstractApplication.GRANT_AUTHORIZATION_CODE,
        ),
        (["client_credentials"], AbstractApplication.GRANT_CLIENT_CREDENTIALS),
        ([grant_types.TOKEN_EXCHANGE], AbstractApplication.GRANT_CLIENT_CREDENTIALS),
        ([], AbstractApplication.GRANT_CLIENT_CREDENTIALS),
    ],
)
def test_dots_single_grant_type_follows_the_rfc_7591_list(names, dot):
    assert grant_types.dot_grant_type(names) == dot


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(grant_types.CONFIDENTIAL_ONLY))
def test_confidential_only_grant_types_refuse_public_clients(client, name):
    app, _ = make_client(confidential=False, grant_types=(name,))
    response = client.post(
        "/token", {"grant_type": name, "client_id": app.client_id, "assertion": "x.y.z"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


# --- the loopback rule (RFC 8252 §7.3, §8.3) ----------------------------------------------

LOOPBACK = ["127.0.0.1", "[::1]", "localhost", "LOCALHOST"]
NOT_LOOPBACK = [
    "127.0.0.2",  # loopback by address, but not RFC 8252 §7.3's literal: DOT frees no port
    "127.1",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "localhost.",
    "app.localhost",
    "10.0.0.1",
    "mcp.example.com",
]


@pytest.fixture
def http_loopback_resources(settings):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, allow_http_loopback_resources=True)


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_rule_is_the_same_for_resources_and_redirect_uris(host, http_loopback_resources):
    assert validate_redirect_uri(f"http://{host}:43117/callback")
    assert validate_registered_identifier(f"http://{host}:9000/mcp")


@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_non_loopback_hosts_get_no_plain_http_for_resources_or_redirect_uris(
    host, http_loopback_resources
):
    with pytest.raises(InvalidRedirectUri):
        validate_redirect_uri(f"http://{host}:43117/callback")
    with pytest.raises(InvalidTarget):
        validate_registered_identifier(f"http://{host}:9000/mcp")


@pytest.mark.parametrize("host", LOOPBACK)
def test_every_accepted_loopback_redirect_uri_matches_on_any_port(host):
    # RFC 8252 §7.3: "MUST allow any port to be specified at the time of the request".
    registered = validate_redirect_uri(f"http://{host}/callback")
    app = Client(redirect_uris=registered, client_type="public")
    assert app.redirect_uri_allowed(f"http://{host.lower()}:51004/callback")


# --- the token digest ---------------------------------------------------------------------


@pytest.mark.django_db
def test_token_hash_is_the_checksum_dot_stores():
    app, _ = make_client()
    row = AccessToken.objects.create(
        application=app, token="an-opaque-token", expires=timezone.now() + timedelta(minutes=5)
    )
    row.refresh_from_db()
    assert row.token_checksum == token_hash("an-opaque-token")


@pytest.mark.django_db
def test_scim_tokens_are_stored_as_the_same_digest():
    row, token = ScimToken.issue(name="Okta provisioning")
    assert row.digest == token_hash(token)
