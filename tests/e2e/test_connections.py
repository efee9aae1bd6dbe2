"""Connections (docs/CONNECTIONS.md) end to end: a user connects an upstream account in
headless Chromium, and the demo MCP server's ``call_upstream`` tool reaches the upstream API
with the user's token, vended by RFC 8693 token exchange; driven by the official MCP Python
SDK client.

Everything is real and on loopback: our server (live), node-oidc-provider as the upstream
(rotating refresh tokens) with its API checking tokens, the demo MCP server (uvicorn), the
SDK client, and Chromium (Debian's).
"""

from __future__ import annotations

import httpx2
import pytest
from django.test import Client as DjangoClient
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from playwright.async_api import async_playwright

from authserver.token_endpoint.grants.subject_token import GRANT_TYPE
from connections.models import Connection, ConnectionPolicy, UpstreamProvider
from connections.views import callback_url
from mcp_token_verifier.upstream import ConnectionRequired, VendError, vend_upstream_token
from tests.connections.conftest import make_provider
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.factories import make_client, make_resource
from tests.oauthflow import exchange, get_code
from tests.support.mcp_sdk import MemoryStorage, User, run_in_thread
from tests.upstream.harness import Upstream

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def upstream(issuer):
    server = Upstream([callback_url()])
    yield server
    server.stop()


def text_of(result) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@pytest.mark.browser
def test_user_connects_in_the_browser_and_the_mcp_server_calls_upstream_as_them(
    issuer, start_demo_server, callback, make_user, upstream
):
    make_user("alice")
    provider = make_provider(upstream)
    server_client, secret = make_client(name="demo MCP server", grant_types=(GRANT_TYPE,))
    demo = start_demo_server(
        exchange_client_id=server_client.client_id,
        exchange_client_secret=secret,
        upstream_api_url=f"{upstream.api}/whoami",
        upstream_audience=provider.slug,
    )
    ConnectionPolicy.objects.create(
        client=server_client, resource=demo.resource, provider=provider, scopes="api:read"
    )
    user = User("alice", callback)
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            user.page = page = await browser.new_page()
            auth = OAuthClientProvider(
                server_url=demo.url,
                client_metadata=OAuthClientMetadata(
                    client_name="SDK connections client",
                    redirect_uris=[callback.uri],
                    token_endpoint_auth_method="none",
                ),
                storage=MemoryStorage(),
                redirect_handler=user.redirect_handler,
                callback_handler=user.callback_handler,
            )
            http = httpx2.AsyncClient(auth=auth, timeout=30)
            try:
                async with http, Client(streamable_http_client(demo.url, http_client=http)) as mcp:
                    tools = {t.name for t in (await mcp.list_tools()).tools}
                    assert "call_upstream" in tools
                    # Not connected yet: the tool error carries the URL to connect.
                    refused = await mcp.call_tool("call_upstream", {})
                    assert refused.is_error
                    connect_url = text_of(refused).rsplit(" ", 1)[-1]
                    seen["connect_url"] = connect_url

                    # The user opens it (already signed in here) and connects upstream.
                    await page.goto(connect_url)
                    await page.click("button[name=connect]")
                    await page.fill("input[name=login]", "alice-upstream")
                    await page.fill("input[name=password]", "any")
                    await page.click("button[type=submit]")
                    await page.click("button[type=submit]")  # the provider's consent
                    await page.wait_for_selector("tr.connection[data-provider=upstream]")
                    seen["page"] = await page.inner_text("tr.connection")

                    called = await mcp.call_tool("call_upstream", {})
                    assert not called.is_error, text_of(called)
                    seen["called"] = called.structured_content

                    # Disconnecting on the Connections page cuts the MCP server off.
                    await page.click("button[name=disconnect]")
                    await page.wait_for_selector("text=no MCP server can use it now")
                    after = await mcp.call_tool("call_upstream", {})
                    seen["after"] = (after.is_error, text_of(after))
            finally:
                await browser.close()

    run_in_thread(scenario, timeout=120)

    assert seen["connect_url"].startswith(f"{issuer}/accounts/connections/upstream/connect?for=")
    assert "Active" in seen["page"]
    assert demo.resource.name in seen["page"]  # which MCP servers may use it
    assert seen["called"] == {
        "status": 200,
        "body": {"sub": "alice-upstream", "scope": "api:read api:write"},
    }
    is_error, message = seen["after"]
    assert is_error
    assert "/accounts/connections/upstream/connect?for=" in message
    assert Connection.objects.get().status == Connection.Status.DISCONNECTED
    assert upstream.control("stats")["revocations"] >= 1


def test_verifier_helper_reports_the_connect_url_and_refusals(issuer, make_user):
    """``mcp_token_verifier.upstream`` over real HTTP against the live server (no upstream
    needed: every answer here is a refusal the helper must map)."""
    user = make_user("alice")
    resource = make_resource("http://127.0.0.1:9/mcp")
    provider = UpstreamProvider.objects.create(
        slug="github",
        name="GitHub",
        authorization_endpoint="https://github.com/login/oauth/authorize",
        token_endpoint="https://github.com/login/oauth/access_token",
        client_id="Iv1.x",
    )
    server, secret = make_client(name="MCP server", grant_types=(GRANT_TYPE,))
    ConnectionPolicy.objects.create(
        client=server, resource=resource, provider=provider, scopes="repo"
    )
    app, _ = make_client(
        confidential=False,
        grant_types=("authorization_code",),
        redirect_uris="http://127.0.0.1/callback",
        skip_authorization=True,
    )
    browser = DjangoClient()
    browser.force_login(user)
    code, verifier, _ = get_code(browser, app.client_id, resource=resource.identifier)
    subject = exchange(browser, app.client_id, code, verifier).json()["access_token"]

    def call(**overrides):
        args = {
            "token_endpoint": f"{issuer}/token",
            "client_id": server.client_id,
            "client_secret": secret,
            "subject_token": subject,
            "audience": "github",
            **overrides,
        }
        return vend_upstream_token(**args)

    with pytest.raises(ConnectionRequired) as needed:
        call()
    assert needed.value.connect_url.startswith(f"{issuer}/accounts/connections/github/connect?for=")
    with pytest.raises(VendError) as refused:
        call(audience="slack")
    assert refused.value.error == "invalid_target"
    with pytest.raises(VendError) as bad_secret:
        call(client_secret="wrong")
    assert (bad_secret.value.error, bad_secret.value.status) == ("invalid_client", 401)
    assert "wrong" not in repr(bad_secret.value)
