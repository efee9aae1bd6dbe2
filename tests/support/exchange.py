"""RFC 8693 token exchange helpers: the request, and a ``world`` fixture (a user's token for
resource A and two gateways allowed A -> B and B -> C; import it into the test module)."""

from __future__ import annotations

import pytest

from authserver.models import TokenExchangePolicy
from authserver.token_endpoint.grants.subject_token import GRANT_TYPE
from tests.factories import MCP, OTHER_MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code
from tests.support.http import basic

THIRD = "https://third.example.com/mcp"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def world(client, user):
    a, b, c = make_resource(MCP), make_resource(OTHER_MCP), make_resource(THIRD)
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    gateway_a, secret_a = make_client(name="server A", grant_types=(GRANT_TYPE,))
    gateway_b, secret_b = make_client(name="server B", grant_types=(GRANT_TYPE,))
    TokenExchangePolicy.objects.create(
        client=gateway_a, source=a, target=b, scope="tools:read tools:write"
    )
    TokenExchangePolicy.objects.create(client=gateway_b, source=b, target=c, scope="tools:read")
    client.force_login(user)
    code, verifier, _ = get_code(client, app.client_id, resource=MCP, scope="tools:read")
    user_token = exchange(client, app.client_id, code, verifier).json()["access_token"]
    return {
        "a": basic(gateway_a.client_id, secret_a),
        "b": basic(gateway_b.client_id, secret_b),
        "gateway_a": gateway_a,
        "user_token": user_token,
        "app": app,
        "resources": (a, b, c),
    }


def do_exchange(client, auth, subject, resource, **extra):
    data = {
        "grant_type": GRANT_TYPE,
        "subject_token": subject,
        "subject_token_type": ACCESS,
        "resource": resource,
        **extra,
    }
    return client.post("/token", data, HTTP_AUTHORIZATION=auth)
