"""Live decisions end to end: the official MCP Python SDK client signs in through Chromium; the
demo MCP server asks our AuthZEN PDP on every tool call (mcp_token_verifier.pdp); the admin
denies a tool and the next call is refused with the same token, no new sign-in."""

from __future__ import annotations

import socket
import threading

import httpx2
import pytest
import uvicorn
from mcp import Client, MCPError
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from playwright.async_api import async_playwright

from authserver.models import AccessToken, Scope, ToolPolicy
from examples.demo_mcp_server import SCOPES, DemoSettings, create_app
from mcp_token_verifier import pdp
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, DEMO_TOOLS
from tests.factories import make_client, make_resource
from tests.support.mcp_sdk import MemoryStorage, User, run_in_thread, structured

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def pdp_demo_server(issuer):
    """The demo MCP server with a PDP client (cache 0 s: every call asks)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    resource = make_resource(url, name="Demo notes", scopes=SCOPES, defaults=("notes:read",))
    for scope_name, tools in DEMO_TOOLS.items():
        Scope.objects.filter(resource=resource, name=scope_name).update(tools=tools)
    pep, secret = make_client(name="demo server's PEP", access={})
    resource.introspection_client = pep
    resource.save()
    hook = pdp.PdpClient(
        f"{issuer}/access/v1/evaluation",
        client_id=pep.client_id,
        client_secret=secret,
        resource=url,
        cache_seconds=0,
    )
    settings = DemoSettings(issuer=issuer, resource=url, revocation_poll_interval=1.0)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, hook), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started or not thread.is_alive():
            break
        threading.Event().wait(0.05)
    assert server.started, "the demo MCP server did not start"
    yield url, resource
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_sdk_client_refused_at_the_next_call_after_the_admin_denies_the_tool(
    issuer, pdp_demo_server, callback, make_user
):
    url, resource = pdp_demo_server
    make_user("bob")
    storage = MemoryStorage()
    user = User("bob", callback)
    refusal: list[str] = []

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            user.page = await browser.new_page()
            provider = OAuthClientProvider(
                server_url=url,
                client_metadata=OAuthClientMetadata(
                    client_name="SDK live client",
                    redirect_uris=[callback.uri],
                    token_endpoint_auth_method="none",
                ),
                storage=storage,
                redirect_handler=user.redirect_handler,
                callback_handler=user.callback_handler,
            )
            http = httpx2.AsyncClient(auth=provider, timeout=30)
            try:
                async with http, Client(streamable_http_client(url, http_client=http)) as mcp:
                    assert structured(await mcp.call_tool("list_notes", {})) == []
                    # The admin: nobody may call list_notes here any more.
                    ToolPolicy.objects.create(
                        resource=resource, effect="deny", tools=["list_notes"]
                    )
                    with pytest.raises(MCPError) as denied:
                        await mcp.call_tool("list_notes", {})
                    refusal.append(str(denied.value))
            finally:
                await browser.close()

    run_in_thread(scenario)

    assert "pdp: denied" in refusal[0]
    assert len(user.authorization_urls) == 1  # one sign-in, one token: no new token needed
    assert AccessToken.objects.filter(application__name="SDK live client").count() == 1
