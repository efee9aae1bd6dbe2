"""Every real MCP client, as it really registers and calls us, through the whole flow:
registration or metadata-document resolution -> authorization with consent -> code exchange
-> refresh -> revocation (tests/compat/real_clients.py says where each shape comes from)."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import urlencode

import pytest
from jwcrypto import jwk

from authserver.models import RefreshToken, Resource
from authserver.ops import localcache
from clients.models import Client
from enterprise import jwks
from tests.clients.support import document_server
from tests.compat import flow
from tests.compat.real_clients import CLAUDE_CODE_DCR, MCP_INSPECTOR, REAL_CLIENTS
from tests.factories import MCP, make_resource
from tests.oauthflow import claims_of, pkce_pair

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]


@pytest.fixture
def server(live, settings, tmp_path):
    """Open registration, CIMD documents served from loopback, one MCP server, and the
    DEFAULT_RESOURCE that clients sending no ``resource`` (Codex) fall back to."""
    settings.CONFIG = dataclasses.replace(
        settings.CONFIG,
        registration_mode="open",
        registration_rate_limit=0,
        max_dynamic_clients=0,
        cimd_enabled=True,
        cimd_allow_loopback=True,
        default_resource=MCP,
    )
    make_resource()
    jwks.clear()  # keys are cached by URL; a reused loopback port must not see old ones
    with document_server(tmp_path) as serve:
        yield serve


def register(http, serve, real: flow.RealClient) -> flow.Registered:
    if real.registration == "cimd":
        url = serve("/oauth/client-metadata.json", {})
        document = json.loads(json.dumps(real.metadata).replace("{url}", url))
        key = None
        if document.get("token_endpoint_auth_method") == "private_key_jwt":
            # ChatGPT: its keys at its jwks_uri, served here on the same loopback server.
            key = jwk.JWK.generate(kty="RSA", size=2048, kid="compat-1")
            public = {"keys": [json.loads(key.export_public())]}
            document["jwks_uri"] = serve("/oauth/jwks.json", public)
        serve("/oauth/client-metadata.json", document)
        return flow.Registered(
            client_id=url, client_secret=None, information=document, signing_key=key
        )
    headers = {"HTTP_ORIGIN": real.origin} if real.origin else {}
    response = http.post(
        "/register", json.dumps(real.metadata), content_type="application/json", **headers
    )
    assert response.status_code == 201, response.content
    body = response.json()
    return flow.Registered(body["client_id"], body.get("client_secret"), body)


@pytest.mark.parametrize("real", REAL_CLIENTS, ids=str)
def test_real_client_completes_register_authorize_exchange_refresh_revoke(
    http, user_browser, client, user, server, settings, real
):
    """Over HTTP against the live server: the client's calls on ``http``, the user's browser
    on ``user_browser`` (its session made by Django's test ``client``)."""
    registered = register(http, server, real)
    user_browser.sign_in_as(client, user)

    code, verifier, callback = flow.authorize(user_browser, real, registered.client_id)
    assert callback["state"] == "compat-state"
    assert callback["iss"] == settings.ISSUER  # RFC 9207 §2

    response = flow.exchange(http, real, registered, code, verifier)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    claims = claims_of(tokens["access_token"])
    assert claims["aud"] == MCP
    assert claims["sub"] == str(user.pk)
    assert claims["client_id"] == registered.client_id
    assert tokens["refresh_token"]  # every one of these clients keeps its user signed in

    # RFC 6749 §6: no scope on refresh keeps the granted scope; the token rotates.
    response = flow.refresh(http, real, registered, tokens["refresh_token"])
    assert response.status_code == 200, response.content
    refreshed = response.json()
    assert refreshed["scope"] == tokens["scope"]
    assert refreshed["refresh_token"] != tokens["refresh_token"]

    # RFC 7009 §2.1: the client revokes its refresh token; it is dead afterwards.
    response = flow.revoke(http, real, registered, refreshed["refresh_token"])
    assert response.status_code == 200, response.content
    response = flow.refresh(http, real, registered, refreshed["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    stored = Client.objects.get(client_id=registered.client_id)
    assert "refresh_token" in stored.grant_types
    assert not RefreshToken.objects.filter(application=stored, revoked__isnull=True).exists()


def test_every_real_client_is_listed_once_with_its_sources():
    names = [real.name for real in REAL_CLIENTS]
    assert len(names) == len(set(names))
    assert all(real.sources and real.seen for real in REAL_CLIENTS)


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        ("/.well-known/oauth-authorization-server", "GET", "mcp-protocol-version"),
        ("/register", "POST", "content-type"),
        ("/token", "POST", "authorization, content-type"),
    ],
)
def test_mcp_inspector_preflight_from_its_origin_is_allowed(http, server, path, method, headers):
    response = http.options(
        path,
        HTTP_ORIGIN=MCP_INSPECTOR.origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )
    assert response.status_code in (200, 204)
    assert response["Access-Control-Allow-Origin"] == "*"
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {h.strip() for h in headers.split(",")} <= allowed
    assert method in response["Access-Control-Allow-Methods"]


def test_mcp_inspector_reads_registration_and_token_responses_cross_origin(
    http, user_browser, client, user, server
):
    registered = register(http, server, MCP_INSPECTOR)
    user_browser.sign_in_as(client, user)
    code, verifier, _ = flow.authorize(user_browser, MCP_INSPECTOR, registered.client_id)
    response = flow.exchange(http, MCP_INSPECTOR, registered, code, verifier)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


def test_consent_says_the_app_stays_connected_when_a_refresh_token_will_be_issued(
    http, user_browser, client, user, server
):
    # Claude Code asks no offline_access, yet gets a refresh token: the user is told so.
    registered = register(http, server, CLAUDE_CODE_DCR)
    user_browser.sign_in_as(client, user)
    _verifier, challenge = pkce_pair()
    path = "/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": registered.client_id,
            "redirect_uri": CLAUDE_CODE_DCR.redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": MCP,
            "scope": "tools:read",
        }
    )
    response = user_browser.get(path)
    assert response.status_code == 200
    assert b"It stays connected" in response.content
    Resource.objects.update(issue_refresh_tokens=False)
    localcache.clear()  # the live server's process is this one: its resource cache too
    response = user_browser.get(path)
    assert b"It stays connected" not in response.content
