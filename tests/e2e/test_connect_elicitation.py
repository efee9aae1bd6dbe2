"""The connect URL bridge (docs/CONNECTIONS.md, "Handing the connect URL to the client"): the
demo's ``call_upstream`` for a user without the connection sends the connect page as a
URL-mode elicitation; the official MCP Python SDK client's callback opens it in Chromium, the
person connects upstream (node-oidc-provider on loopback), and the same call completes."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client, types
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from playwright.async_api import async_playwright

from authserver.token_endpoint.grants.subject_token import GRANT_TYPE
from connections.models import Connection, ConnectionPolicy
from connections.views import callback_url
from tests.connections.conftest import make_provider
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.factories import make_client
from tests.support.mcp_sdk import MemoryStorage, User, run_in_thread
from tests.upstream.harness import Upstream

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def upstream(issuer):
    server = Upstream([callback_url()])
    yield server
    server.stop()


def test_connect_url_elicitation_connects_and_the_call_completes(
    issuer, start_demo_server, callback, make_user, upstream
):
    alice = make_user("alice")
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
    elicited: list[str] = []
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            user.page = page = await browser.new_page()

            async def open_the_page(context, params) -> types.ElicitResult:
                elicited.append(params.url)
                await page.goto(params.url)
                await page.click("button[name=connect]")
                await page.fill("input[name=login]", "alice-upstream")
                await page.fill("input[name=password]", "any")
                await page.click("button[type=submit]")
                await page.click("button[type=submit]")  # the provider's consent
                await page.wait_for_selector("tr.connection[data-provider=upstream]")
                return types.ElicitResult(action="accept")

            auth = OAuthClientProvider(
                server_url=demo.url,
                client_metadata=OAuthClientMetadata(
                    client_name="SDK connect client",
                    redirect_uris=[callback.uri],
                    token_endpoint_auth_method="none",
                ),
                storage=MemoryStorage(),
                redirect_handler=user.redirect_handler,
                callback_handler=user.callback_handler,
            )
            http = httpx2.AsyncClient(auth=auth, timeout=60)
            try:
                transport = streamable_http_client(demo.url, http_client=http)
                async with http, Client(transport, elicitation_callback=open_the_page) as mcp:
                    called = await mcp.call_tool("call_upstream", {})
                    seen["called"] = (called.is_error, called.structured_content)
            finally:
                await browser.close()

    run_in_thread(scenario, timeout=180)
    assert len(elicited) == 1
    assert elicited[0].startswith(f"{issuer}/accounts/connections/upstream/connect?for=")
    assert seen["called"] == (
        False,
        {"status": 200, "body": {"sub": "alice-upstream", "scope": "api:read api:write"}},
    )
    assert Connection.objects.get().user == alice
