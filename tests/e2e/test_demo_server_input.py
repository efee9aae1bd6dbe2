"""The demo MCP server answers malformed JSON-RPC bodies with JSON-RPC 2.0 §5.1's parse error
(-32700), deeply nested JSON included, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import make_client

pytestmark = pytest.mark.django_db(transaction=True)


def machine_token(issuer: str, demo_server) -> str:
    client, secret = make_client(access={demo_server.resource: "notes:read"})
    response = httpx.post(
        f"{issuer}/token",
        data={"grant_type": "client_credentials", "resource": demo_server.url},
        auth=(client.client_id, secret),
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b"{not json"],
)
def test_deeply_nested_json_rpc_body_is_a_parse_error_not_500(issuer, demo_server, body):
    token = machine_token(issuer, demo_server)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    response = httpx.post(demo_server.url, content=body, headers=headers, timeout=30)
    assert response.status_code == 400, response.text[:200]
    assert response.json()["error"]["code"] == -32700
    assert response.json()["id"] is None
    # Without a token: the challenge, as for any request (the body is not judged first).
    anonymous = httpx.post(demo_server.url, content=body, headers={"Accept": headers["Accept"]})
    assert anonymous.status_code == 401
