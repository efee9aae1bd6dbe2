"""CORS on machine-facing endpoints only (MCP Inspector runs in a browser)."""

import pytest

from authserver.ops import localcache
from authserver.ops.cors import cors_applies

pytestmark = pytest.mark.django_db

PREFLIGHT = {
    "HTTP_ORIGIN": "http://localhost:6274",
    "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "content-type,mcp-protocol-version",
}


@pytest.mark.parametrize(
    "path",
    [
        "/token",
        "/revoke",
        "/introspect",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ],
)
def test_preflight_is_answered_on_machine_endpoints(client, path):
    response = client.options(path, **PREFLIGHT)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = response["Access-Control-Allow-Headers"].lower()
    for header in ("authorization", "content-type", "mcp-protocol-version"):
        assert header in allowed
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize("path", ["/authorize", "/accounts/login/", "/admin/login/", "/"])
def test_no_cors_on_user_facing_pages(client, path):
    preflight = client.options(path, **PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in preflight
    assert "Access-Control-Allow-Origin" not in client.get(path, HTTP_ORIGIN="https://evil.example")


def test_cors_response_exposes_www_authenticate(client):
    response = client.get("/.well-known/jwks.json", HTTP_ORIGIN="http://localhost:6274")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "WWW-Authenticate" in response["Access-Control-Expose-Headers"]


# --- django-cors-headers (docs/LIBRARIES.md): the behaviour above, and these rules ---------


@pytest.mark.parametrize("path", ["/token", "/register", "/revoke", "/introspect"])
def test_cors_preflight_on_token_endpoint_allows_any_origin_without_credentials(client, path):
    response = client.options(path, **{**PREFLIGHT, "HTTP_ORIGIN": "https://any.example"})
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"  # never the origin echoed back
    assert "Access-Control-Allow-Credentials" not in response
    assert response["Access-Control-Max-Age"] == "86400"
    assert response.content == b""
    assert "Content-Type" not in response  # RFC 9110 §15.3.5: nothing to type


def test_cors_response_to_a_token_request_allows_any_origin_without_credentials(client):
    response = client.post(
        "/token", {"grant_type": "client_credentials"}, HTTP_ORIGIN="https://any.example"
    )
    assert response.status_code in (400, 401)  # an OAuth error, still readable by the page
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response
    assert "WWW-Authenticate" in response["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("path", ["/authorize", "/accounts/login/", "/admin/"])
def test_cors_never_applies_to_pages_that_use_the_users_cookies(path):
    assert not cors_applies(path)


@pytest.mark.parametrize(
    "path",
    [
        "/token",
        "/register",
        "/register/abc",
        "/revocations",
        "/jwks.json",
        "/.well-known/oauth-protected-resource/mcp",
        "/tenant/.well-known/openid-configuration",
    ],
)
def test_cors_applies_to_every_endpoint_browser_clients_call(path):
    assert cors_applies(path)


def test_cached_documents_carry_cors_headers_whoever_filled_the_cache(client):
    # The fast path replays its copy to every caller: a server (no Origin) that fills it
    # must not leave browsers without Access-Control-Allow-Origin.
    localcache.clear()
    first = client.get("/.well-known/jwks.json")
    second = client.get("/.well-known/jwks.json", HTTP_ORIGIN="http://localhost:6274")
    assert first["Access-Control-Allow-Origin"] == second["Access-Control-Allow-Origin"] == "*"
    assert "WWW-Authenticate" in second["Access-Control-Expose-Headers"]
