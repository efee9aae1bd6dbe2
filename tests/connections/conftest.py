"""Fixtures for connection tests: the real upstream provider, a provider row pointing at it,
an MCP server allowed to vend, and a user's MCP access token for it."""

from __future__ import annotations

import pytest

from authserver.token_endpoint.grants.subject_token import GRANT_TYPE
from connections import vault
from connections.models import Connection, ConnectionPolicy, UpstreamProvider
from connections.views import callback_url
from tests.factories import MCP, make_client, make_resource
from tests.oauthflow import exchange, get_code
from tests.support.http import basic
from tests.upstream.harness import Upstream

ACCESS = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def upstream(db):
    server = Upstream([callback_url()])
    yield server
    server.stop()


def make_provider(upstream: Upstream, slug: str = "upstream", **fields) -> UpstreamProvider:
    provider = UpstreamProvider(slug=slug, **{**upstream.provider_fields(), **fields})
    vault.seal(provider, "client_secret_encrypted", upstream.client_secret)
    provider.save()
    return provider


@pytest.fixture
def provider(upstream) -> UpstreamProvider:
    return make_provider(upstream)


def connect(client, upstream: Upstream, slug: str = "upstream", login: str = "alice"):
    """The user's browser session connects the account; returns the final response."""
    start = client.post(f"/accounts/connections/{slug}/connect")
    assert start.status_code == 302, start.content[:300]
    back = upstream.sign_in(start["Location"], login=login)
    return client.get("/accounts/connections/callback", back)


@pytest.fixture
def world(client, user, provider):
    """An MCP server (resource + its confidential client) allowed to vend ``upstream``
    tokens with api:read, and an MCP client holding the user's token for it."""
    resource = make_resource(MCP)
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    server, secret = make_client(name="MCP server", grant_types=(GRANT_TYPE,))
    policy = ConnectionPolicy.objects.create(
        client=server, resource=resource, provider=provider, scopes="api:read"
    )
    client.force_login(user)
    code, verifier, _ = get_code(client, app.client_id, resource=MCP, scope="tools:read")
    user_token = exchange(client, app.client_id, code, verifier).json()["access_token"]
    return {
        "auth": basic(server.client_id, secret),
        "server": server,
        "app": app,
        "resource": resource,
        "policy": policy,
        "user_token": user_token,
    }


def vend(client, auth: str, subject: str, audience: str = "upstream", **extra):
    data = {
        "grant_type": GRANT_TYPE,
        "subject_token": subject,
        "subject_token_type": ACCESS,
        "audience": audience,
        **extra,
    }
    return client.post("/token", data, HTTP_AUTHORIZATION=auth)


def connection_of(user, provider) -> Connection:
    return Connection.objects.get(user=user, provider=provider)
