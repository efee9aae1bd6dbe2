"""RFC 8414 metadata and OIDC discovery."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import resolve

pytestmark = pytest.mark.django_db

ISSUER = "http://127.0.0.1:8000"


@pytest.fixture
def as_metadata(client):
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    return response.json()


def test_metadata_has_every_required_and_mcp_needed_member(as_metadata):
    # RFC 8414 §2 REQUIRED: issuer, response_types_supported; authorization_endpoint and
    # token_endpoint for the code grant; the rest is what MCP clients check.
    assert as_metadata["issuer"] == ISSUER
    assert as_metadata["response_types_supported"] == ["code"]
    assert as_metadata["code_challenge_methods_supported"] == ["S256"]
    assert as_metadata["authorization_response_iss_parameter_supported"] is True
    assert as_metadata["response_modes_supported"] == ["query"]
    assert "none" in as_metadata["token_endpoint_auth_methods_supported"]
    assert "offline_access" in as_metadata["scopes_supported"]
    for member in (
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
        "service_documentation",
        "grant_types_supported",
        "revocation_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
    ):
        assert member in as_metadata, member


def test_metadata_never_advertises_insecure_or_missing_features(as_metadata):
    assert "implicit" not in as_metadata["grant_types_supported"]
    assert "password" not in as_metadata["grant_types_supported"]
    assert "plain" not in as_metadata["code_challenge_methods_supported"]
    assert "token" not in as_metadata["response_types_supported"]


def test_every_advertised_url_resolves_to_a_served_endpoint(client, as_metadata):
    urls = {k: v for k, v in as_metadata.items() if k.endswith(("_endpoint", "_uri"))}
    urls["service_documentation"] = as_metadata["service_documentation"]
    assert len(urls) >= 6
    for member, url in urls.items():
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == ISSUER, member
        resolve(parts.path)  # raises Resolver404 if we advertised a route we do not serve
        assert client.get(parts.path).status_code != 404, member


def test_openid_configuration_is_consistent_with_rfc8414(client, as_metadata):
    oidc = client.get("/.well-known/openid-configuration").json()
    for member, value in as_metadata.items():
        assert oidc[member] == value, member
    assert oidc["subject_types_supported"] == ["public"]
    assert oidc["id_token_signing_alg_values_supported"] == ["ES256"]


def test_metadata_is_cacheable_with_cors(client):
    response = client.get("/.well-known/oauth-authorization-server")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in response["Cache-Control"]
    assert (
        client.get(
            "/.well-known/oauth-authorization-server", HTTP_IF_NONE_MATCH=response["ETag"]
        ).status_code
        == 304
    )


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/oauth-authorization-server/tenant",  # path form for an issuer we are not
        "/.well-known/openid-configuration/tenant",
        "/tenant/.well-known/openid-configuration",
        "/.well-known/oauth-protected-resource",
        "/.well-known/unknown",
        "/.well-known/openid-configuration/",
    ],
)
def test_unknown_well_known_paths_are_plain_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_issuer_with_path_is_served_at_every_form_mcp_clients_try(client, settings):
    issuer = "https://as.example.com/tenant1"
    settings.ISSUER = issuer
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": issuer}
    for path in (
        "/.well-known/oauth-authorization-server/tenant1",
        "/.well-known/openid-configuration/tenant1",
        "/tenant1/.well-known/openid-configuration",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.json()["issuer"] == issuer
        assert response.json()["token_endpoint"] == "https://as.example.com/token"
    for path in (
        "/.well-known/oauth-authorization-server",  # that would be issuer https://as.example.com
        "/.well-known/oauth-authorization-server/tenant2",
        "/tenant2/.well-known/openid-configuration",
    ):
        assert client.get(path).status_code == 404, path


def test_service_documentation_page_is_public(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert b"/.well-known/oauth-authorization-server" in response.content


ID_JAG = "urn:ietf:params:oauth:grant-profile:id-jag"


def test_id_jag_grant_profile_is_advertised_only_with_an_enabled_trusted_idp(client):
    """ext-auth (Enterprise-Managed Authorization, 2026-06-18): an AS that accepts ID-JAGs
    MUST list the id-jag profile in authorization_grant_profiles_supported; with no enabled
    IdP every ID-JAG is refused, so nothing is advertised."""
    from enterprise.models import TrustedIdentityProvider

    def document():
        return client.get("/.well-known/oauth-authorization-server").json()

    assert "authorization_grant_profiles_supported" not in document()
    idp = TrustedIdentityProvider.objects.create(
        name="Okta",
        issuer="https://idp.example",
        jwks_uri="https://idp.example/jwks",
        enabled=False,
    )
    assert "authorization_grant_profiles_supported" not in document()
    idp.enabled = True
    idp.save()
    assert document()["authorization_grant_profiles_supported"] == [ID_JAG]
    openid = client.get("/.well-known/openid-configuration").json()
    assert openid["authorization_grant_profiles_supported"] == [ID_JAG]


def test_metadata_contribution_registered_twice_is_a_configuration_error():
    from django.core.exceptions import ImproperlyConfigured

    from authserver.token_endpoint import registry

    with pytest.raises(ImproperlyConfigured):
        registry.register_metadata("enterprise", lambda: {})


def test_feature_metadata_cannot_overwrite_a_member_the_core_decides(client, monkeypatch):
    """A feature's RFC 8414 members are added, never substituted: a contribution naming the
    token endpoint (or any member the core sets) makes the document fail closed rather than
    send clients elsewhere."""
    from django.test import Client as HttpClient

    from authserver.token_endpoint import registry

    evil = {"token_endpoint": "https://attacker.example/token"}
    monkeypatch.setitem(registry.METADATA, "hijack", lambda: evil)
    response = HttpClient(raise_request_exception=False).get(
        "/.well-known/oauth-authorization-server"
    )
    assert response.status_code == 500
    assert b"attacker" not in response.content
    monkeypatch.setitem(registry.METADATA, "hijack", lambda: {"issuer": "https://x.example"})
    response = HttpClient(raise_request_exception=False).get(
        "/.well-known/oauth-authorization-server"
    )
    assert response.status_code == 500


def test_list_members_several_features_contribute_are_merged():
    from django.core.exceptions import ImproperlyConfigured

    from authserver.protocol import metadata

    doc = metadata.add_contributions(
        {"issuer": ISSUER},
        [
            {"authorization_grant_profiles_supported": ["urn:b"]},
            {"authorization_grant_profiles_supported": ["urn:a", "urn:b"], "x_extra": True},
        ],
    )
    assert doc["authorization_grant_profiles_supported"] == ["urn:a", "urn:b"]
    assert doc["x_extra"] is True
    with pytest.raises(ImproperlyConfigured):
        metadata.add_contributions({}, [{"x_flag": True}, {"x_flag": False}])
    with pytest.raises(ImproperlyConfigured):
        metadata.add_contributions({}, [{"registration_endpoint": "https://x.example/r"}])
