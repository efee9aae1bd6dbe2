"""Unauthenticated input no parameter syntax allows (RFC 6749 Appendix A): a NUL or another
control character in client_id at /token (body or Basic credentials) and at /authorize is a
precise 4xx (RFC 6749 §5.2), never a 500 from PostgreSQL, which cannot store a NUL."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

import pytest
from django.test import Client as HttpClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enterprise.models import TrustedIdentityProvider
from tests.factories import MCP, make_client, make_resource

pytestmark = pytest.mark.django_db

NUL_IDS = ["a\x00b", "\x00", "https://app.example/\x00.json", "abc\x01", "é"]


def token_body(client_id: str) -> dict:
    return {"grant_type": "client_credentials", "client_id": client_id, "resource": MCP}


def basic(client_id: str) -> str:
    raw = quote(client_id, safe="").encode() + b":s"
    return "Basic " + base64.b64encode(raw).decode()


def authorize_query(client_id: str) -> str:
    return "/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": "http://127.0.0.1/cb",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
            "state": "s",
        }
    )


@pytest.fixture
def browser():
    make_resource()
    return HttpClient(raise_request_exception=False)


@pytest.mark.parametrize("client_id", NUL_IDS)
def test_nul_in_client_id_at_token_is_invalid_request(browser, client_id):
    response = browser.post("/token", {**token_body(client_id), "client_secret": "s"})
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request"
    assert "\x00" not in response.content.decode()


@pytest.mark.parametrize("client_id", NUL_IDS)
def test_nul_in_basic_client_id_at_token_is_invalid_request(browser, client_id):
    response = browser.post(
        "/token",
        {"grant_type": "client_credentials", "resource": MCP},
        HTTP_AUTHORIZATION=basic(client_id),
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("client_id", NUL_IDS)
def test_nul_in_client_id_at_authorize_is_refused_on_the_error_page(
    browser, django_user_model, client_id
):
    for signed_in in (False, True):
        if signed_in:
            browser.force_login(django_user_model.objects.create_user("u", password="p"))
        response = browser.get(authorize_query(client_id))
        assert response.status_code == 400, response.content[:200]
        assert "Location" not in response  # never redirected: no trusted redirect URI


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(client_id=st.text(min_size=1, max_size=80))
def test_any_text_as_client_id_is_a_4xx_at_token_and_authorize(browser, client_id):
    responses = [
        browser.post("/token", {**token_body(client_id), "client_secret": "s"}),
        browser.post(
            "/token",
            {"grant_type": "client_credentials", "resource": MCP},
            HTTP_AUTHORIZATION=basic(client_id),
        ),
        browser.get(authorize_query(client_id)),
    ]
    for response in responses:
        assert 400 <= response.status_code < 500, (client_id, response.status_code)


@pytest.mark.parametrize("client_id", NUL_IDS)
def test_nul_in_client_id_at_introspect_revoke_and_register_is_a_4xx(browser, client_id):
    for path in ("/introspect", "/revoke"):
        body = {"token": "t", "client_id": client_id, "client_secret": "s"}
        assert browser.post(path, body).status_code in (400, 401), path
        response = browser.post(path, {"token": "t"}, HTTP_AUTHORIZATION=basic(client_id))
        assert response.status_code in (400, 401), path
    response = browser.get(f"/register/{quote(client_id, safe='')}", HTTP_AUTHORIZATION="Bearer x")
    assert response.status_code in (401, 404)


def unsigned_jwt(header: dict, claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(claims)}.c2lnbmF0dXJl"


@pytest.mark.parametrize("value", ["a\x00b", "\x00", "https://idp.example/\x00"])
def test_nul_in_client_assertion_iss_or_sub_is_invalid_client(browser, value):
    """Unauthenticated: the assertion's iss and sub are looked up before its signature."""
    assertion = unsigned_jwt({"alg": "RS256"}, {"iss": value, "sub": value, "aud": "x"})
    body = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    response = browser.post("/token", body)
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"


def test_nul_in_id_jag_issuer_is_invalid_grant(browser):
    app, secret = make_client(grant_types=("authorization_code",), redirect_uris="https://a/cb")
    idp = TrustedIdentityProvider.objects.create(
        name="Acme", issuer="https://idp.example", jwks_uri="https://idp.example/jwks"
    )
    idp.clients.add(app)
    assertion = unsigned_jwt(
        {"alg": "RS256", "typ": "oauth-id-jag+jwt"}, {"iss": "https://idp.example\x00", "sub": "s"}
    )
    body = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": assertion,
        "client_id": app.client_id,
        "client_secret": secret,
    }
    response = browser.post("/token", body)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_grant"
