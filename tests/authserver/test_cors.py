"""CORS on machine-facing endpoints only (MCP Inspector runs in a browser)."""

import pytest

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
