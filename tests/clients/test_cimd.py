"""Client ID Metadata Documents: the SSRF guard, validation, caching, DOT's resolution path.

Production-mode refusals are tested at the address layer (no connection is ever made);
development mode fetches from a real TLS server on 127.0.0.1.
"""

from __future__ import annotations

import socket

import pytest
from django.utils import timezone
from oauth2_provider import cimd as oauth2_provider_cimd
from oauthlib.common import Request

from accounts.models import Consent
from authserver.authorization.validators import Validator
from authserver.models import AuditEvent
from clients import cimd
from clients.cimd import CIMDError, DynamicClientCapPermission, MetadataFetcher
from clients.models import Client
from tests.clients.support import document
from tests.compat.real_clients import CHATGPT, CLAUDE_AI
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import authorize_url, consent_request_id, pkce_pair, query_of

pytestmark = [
    pytest.mark.django_db,
    # Development mode does not verify the loopback server's certificate, on purpose.
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]


# --- production mode: refused before any connection ------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/client.json",
        "https://localhost/client.json",
        "https://[::1]/client.json",
        "https://10.0.0.1/client.json",
        "https://192.168.1.10/client.json",
        "https://169.254.169.254/latest/meta-data/client.json",
        "https://[::ffff:169.254.169.254]/client.json",
        "https://[fd00::1]/client.json",
    ],
)
def test_ssrf_guard_refuses_loopback_private_and_metadata_addresses(url, monkeypatch):
    def no_connection(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(cimd.urllib3, "HTTPSConnectionPool", no_connection)
    with pytest.raises(CIMDError):
        MetadataFetcher().fetch(url)
    assert not Client.objects.exists()


def test_ssrf_guard_refuses_a_public_name_resolving_to_a_private_address(monkeypatch):
    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(CIMDError, match="non-public"):
        MetadataFetcher().fetch("https://clients.example.com/app.json")


@pytest.mark.parametrize(
    "url",
    [
        "http://clients.example.com/app.json",
        "https://clients.example.com",
        "https://user:pw@clients.example.com/app.json",
        "https://clients.example.com/a/../app.json",
        "https://clients.example.com/app.json#x",
    ],
)
def test_client_id_url_must_be_https_with_a_path_and_no_userinfo_fragment_or_dots(url):
    with pytest.raises(CIMDError):
        MetadataFetcher().fetch(url)


def test_loopback_name_resolving_elsewhere_is_refused_even_in_development(
    registration_policy, monkeypatch
):
    registration_policy(cimd_allow_loopback=True)

    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(CIMDError, match="loopback"):
        MetadataFetcher().fetch("https://localhost/app.json")


# --- development mode: a real TLS server on 127.0.0.1 ------------------------------------------


@pytest.fixture
def development(registration_policy):
    registration_policy(cimd_allow_loopback=True)


def test_loopback_document_is_accepted_in_development_mode(document_server, development):
    url = document_server("/client.json", {})
    document_server("/client.json", document(url), headers={"Cache-Control": "max-age=600"})
    before = timezone.now()
    MetadataFetcher().fetch(url)
    client = Client.objects.get(client_id=url)
    assert client.registration_source == "cimd"
    assert client.client_type == Client.CLIENT_PUBLIC
    assert client.client_secret == ""
    assert client.verified is False
    assert client.token_endpoint_auth_method == "none"
    assert client.grant_types == ["authorization_code", "refresh_token"]
    assert client.authorization_grant_type == Client.GRANT_AUTHORIZATION_CODE
    assert client.client_uri == "https://dev.example.com"
    assert client.software_id == "dev-client"
    # Cached per Cache-Control (DOT clamps it to [MIN_AGE, MAX_AGE]).
    assert (client.cimd_expires_at - before).total_seconds() == pytest.approx(600, abs=5)


def test_loopback_document_is_refused_in_production_mode(document_server):
    url = document_server("/client.json", {})
    document_server("/client.json", document(url))
    with pytest.raises(CIMDError, match="CIMD_ALLOW_LOOPBACK"):
        MetadataFetcher().fetch(url)


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"client_id": "https://other.example/client.json"}, "client_id differs from URL"),
        ({"client_secret": "s"}, "carries a secret"),
        ({"client_secret_expires_at": 0}, "carries a secret expiry"),
        ({"token_endpoint_auth_method": "client_secret_basic"}, "secret auth method"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "unsupported auth method"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "unsafe redirect URI"),
        ({"redirect_uris": ["http://evil.example/cb"]}, "http on a public host"),
        ({"redirect_uris": ...}, "no redirect URI"),
        ({"grant_types": ["client_credentials"]}, "no authorization code"),
        ({"client_name": {"$gt": ""}}, "mistyped client_name"),
    ],
)
def test_invalid_document_is_refused_and_nothing_is_stored(
    document_server, development, overrides, why
):
    url = document_server("/client.json", {})
    document_server("/client.json", document(url, **overrides))
    with pytest.raises(CIMDError):
        MetadataFetcher().fetch(url)
    assert not Client.objects.exists()


def test_document_without_auth_method_is_a_public_client(document_server, development):
    url = document_server("/client.json", {})
    document_server("/client.json", document(url, token_endpoint_auth_method=...))
    MetadataFetcher().fetch(url)
    assert Client.objects.get(client_id=url).is_public


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (302, {"Location": "https://127.0.0.1/elsewhere.json"}, b""),
        (500, {}, b"{}"),
        (200, {"Content-Type": "text/html"}, b"{}"),
        (200, {}, b"x" * (17 * 1024)),
        (200, {}, b"not json"),
    ],
)
def test_redirects_errors_wrong_type_oversize_and_garbage_are_refused(
    document_server, development, status, headers, body
):
    url = document_server("/client.json", body, status=status, headers=headers)
    with pytest.raises(CIMDError):
        MetadataFetcher().fetch(url)


def test_document_cannot_take_over_a_client_registered_another_way(document_server, development):
    url = document_server("/client.json", {})
    document_server("/client.json", document(url))
    make_client(client_id=url)
    with pytest.raises(CIMDError, match="collides"):
        MetadataFetcher().fetch(url)


def test_changed_document_updates_the_client_and_drops_verification(document_server, development):
    url = document_server("/client.json", {})
    document_server("/client.json", document(url))
    MetadataFetcher().fetch(url)
    Client.objects.filter(client_id=url).update(verified=True)
    document_server("/client.json", document(url, redirect_uris=["http://127.0.0.1:4000/cb"]))
    MetadataFetcher().fetch(url)
    client = Client.objects.get(client_id=url)
    assert client.redirect_uris == "http://127.0.0.1:4000/cb"
    assert client.verified is False


@pytest.fixture
def dot_cimd(settings):
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "CIMD_ENABLED": True,
        "CIMD_METADATA_FETCHER": "clients.cimd.MetadataFetcher",
        "CIMD_REGISTRATION_PERMISSION_CLASSES": ["clients.cimd.DynamicClientCapPermission"],
    }


def oauthlib_request() -> Request:
    request = Request("https://as.example/authorize")
    request.client = None
    return request


def test_dot_validator_resolves_a_document_client_id_through_our_fetcher(
    document_server, development, dot_cimd
):
    url = document_server("/mcp-client.json", {})
    document_server("/mcp-client.json", document(url))
    client = Validator()._load_application(url, oauthlib_request())
    assert client is not None
    assert client.client_id == url
    assert client.grant_types == ["authorization_code", "refresh_token"]
    assert client.is_public
    assert not client.verified


def test_dot_validator_treats_a_refused_document_as_an_unknown_client(
    document_server, development, dot_cimd
):
    url = document_server("/bad.json", {})
    document_server("/bad.json", document(url, client_id="https://elsewhere.example/x"))
    assert Validator()._load_application(url, oauthlib_request()) is None
    assert not Client.objects.exists()


def test_cap_permission_refuses_new_documents_when_full_but_keeps_known_ones(
    registration_policy,
):
    registration_policy(max_dynamic_clients=1)
    known, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/cb",
        registration_source="cimd",
        client_id="https://known.example/c.json",
    )
    permission = DynamicClientCapPermission()
    assert permission.has_permission(None, known.client_id)
    assert not permission.has_permission(None, "https://new.example/c.json")
    registration_policy(max_dynamic_clients=0, cimd_enabled=False)
    assert not permission.has_permission(None, "https://new.example/c.json")


# --- the documents real clients serve (regressions: both were refused before negotiation) ---


def _served(document_server, real) -> str:
    url = document_server("/oauth/client-metadata.json", {})
    body = {**real.metadata, "client_id": url}
    document_server("/oauth/client-metadata.json", body)
    return url


def test_claude_ai_document_listing_the_jwt_bearer_grant_is_accepted_without_it(
    document_server, development, dot_cimd
):
    # RFC 7591 §2: unsupported grant types are dropped, not fatal (claude-ai-mcp#487).
    url = _served(document_server, CLAUDE_AI)
    client = oauth2_provider_cimd.resolve_cimd_application(url, oauthlib_request())
    assert client is not None
    assert client.grant_types == ["authorization_code", "refresh_token"]
    assert client.is_public
    assert client.name == "Claude"


def test_chatgpt_document_declaring_private_key_jwt_registers_private_key_jwt(
    document_server, development, dot_cimd
):
    # CIMD draft §8.2: private_key_jwt with the keys at the document's jwks_uri.
    url = _served(document_server, CHATGPT)
    client = oauth2_provider_cimd.resolve_cimd_application(url, oauthlib_request())
    assert client is not None
    client.refresh_from_db()
    assert client.token_endpoint_auth_method == "private_key_jwt"
    assert not client.is_public  # DOT's upsert sets public; the key-holding client is not
    assert client.jwks_uri == "https://chatgpt.com/oauth/jwks.json"
    assert client.redirect_uris == "https://chatgpt.com/connector_platform_oauth_redirect"


def test_document_declaring_private_key_jwt_without_keys_is_refused(document_server, development):
    url = document_server("/pkjwt.json", {})
    document_server("/pkjwt.json", document(url, token_endpoint_auth_method="private_key_jwt"))
    with pytest.raises(CIMDError, match="private_key_jwt needs jwks_uri or jwks"):
        MetadataFetcher().fetch(url)
    assert not Client.objects.exists()


def test_document_with_private_key_jwt_and_inline_public_jwks_is_recorded(
    document_server, development
):
    url = document_server("/pkjwt.json", {})
    key = {
        "kty": "EC",
        "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "kid": "k1",
    }
    body = document(url, token_endpoint_auth_method="private_key_jwt", jwks={"keys": [key]})
    document_server("/pkjwt.json", body)
    MetadataFetcher().fetch(url)
    client = Client.objects.get(client_id=url)
    assert client.jwks == {"keys": [key]}
    assert client.token_endpoint_auth_method == "private_key_jwt"


def test_document_with_a_private_key_in_jwks_is_refused(document_server, development):
    url = document_server("/pkjwt.json", {})
    leaked = {"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "secret"}
    body = document(url, token_endpoint_auth_method="private_key_jwt", jwks={"keys": [leaked]})
    document_server("/pkjwt.json", body)
    with pytest.raises(CIMDError, match="public keys only"):
        MetadataFetcher().fetch(url)
    assert not Client.objects.exists()


# --- a changed document: consent and trust are cut off as by an RFC 7592 update -----------


def _authorize(client, url: str, redirect_uri: str):
    _, challenge = pkce_pair()
    return client.get(
        authorize_url(
            url,
            resource=MCP,
            redirect_uri=redirect_uri,
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )


def test_changed_metadata_document_withdraws_remembered_consent_and_skip_authorization(
    client, user, document_server, development, dot_cimd
):
    """After the cache age, a document naming a new redirect URI and name took effect while
    skip_authorization and every remembered consent stayed: codes went, with no consent
    screen, to the new URI. Now the re-fetch cuts off both, like an RFC 7592 update."""
    make_resource()
    old_uri, new_uri = "http://127.0.0.1:3000/callback", "http://127.0.0.1:4000/cb"
    url = document_server("/client.json", {})
    document_server("/client.json", document(url, redirect_uris=[old_uri]))
    client.force_login(user)
    first = _authorize(client, url, old_uri)
    assert first.status_code == 200  # the consent screen
    answer = client.post("/authorize", {"request_id": consent_request_id(first), "allow": "1"})
    assert query_of(answer["Location"]).get("code")
    assert Consent.objects.filter(client__client_id=url).exists()
    assert _authorize(client, url, old_uri).status_code == 302  # remembered: no screen
    Client.objects.filter(client_id=url).update(skip_authorization=True, verified=True)

    changed = document(url, redirect_uris=[new_uri], client_name="Totally the same app")
    document_server("/client.json", changed)
    Client.objects.filter(client_id=url).update(cimd_expires_at=timezone.now())  # cache age
    response = _authorize(client, url, new_uri)

    assert response.status_code == 200, response.get("Location")  # asked again, no code
    assert "Totally the same app" in response.content.decode()
    stored = Client.objects.get(client_id=url)
    assert stored.redirect_uris == new_uri
    assert (stored.skip_authorization, stored.verified) == (False, False)
    assert not Consent.objects.filter(client=stored).exists()
    event = AuditEvent.objects.get(kind="client.identity_changed", client_id=url)
    assert event.actor == "cimd"
    assert event.detail["fields"] == ["redirect_uris", "client_name"]
    assert event.detail["trust_cleared"] is True
    assert event.detail["consents"] == 1


def test_unchanged_metadata_document_keeps_consent(
    client, user, document_server, development, dot_cimd
):
    url = document_server("/client.json", {})
    document_server("/client.json", document(url))
    MetadataFetcher().fetch(url)
    Client.objects.filter(client_id=url).update(skip_authorization=True)
    MetadataFetcher().fetch(url)
    assert Client.objects.get(client_id=url).skip_authorization is True
    assert not AuditEvent.objects.filter(kind="client.identity_changed").exists()
