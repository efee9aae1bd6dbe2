"""Per-tool authorization end to end: the official MCP Python SDK client, unmodified, signs in
and consents in Chromium; the admin's tool policy shapes the token's authorization_details
(RFC 9396, mcp_tool); the demo MCP server enforces them per tool call."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from playwright.async_api import async_playwright

from authserver.models import AccessToken, ToolPolicy
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.oauthflow import claims_of
from tests.support.mcp_sdk import MemoryStorage, Traffic, User, run_in_thread, structured

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


class ReadingUser(User):
    """Also keeps the text of each consent screen."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.screens: list[str] = []

    async def redirect_handler(self, url: str) -> None:
        original_click = self.page.click

        async def click(selector: str, **kwargs) -> None:
            if selector.startswith("button[name="):  # the consent screen's answer
                self.screens.append(await self.page.inner_text("main"))
            await original_click(selector, **kwargs)

        self.page.click = click
        try:
            await super().redirect_handler(url)
        finally:
            self.page.click = original_click


def test_sdk_client_policy_denied_tool_refused_sibling_works_argument_constraint_enforced(
    issuer, demo_server, callback, make_user
):
    make_user("bob")
    resource = demo_server.resource
    # The admin: nobody may call whoami here; add_note only for texts starting with "todo:".
    ToolPolicy.objects.create(resource=resource, effect="deny", tools=["whoami"])
    ToolPolicy.objects.create(
        resource=resource, tools=["add_note"], constraints={"text": {"prefix": "todo:"}}
    )
    storage, traffic = MemoryStorage(), Traffic()
    user = ReadingUser("bob", callback)
    refusals: dict[str, str] = {}

    async def scenario() -> None:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            user.page = await browser.new_page()
            provider = OAuthClientProvider(
                server_url=demo_server.url,
                client_metadata=OAuthClientMetadata(
                    client_name="SDK tools client",
                    redirect_uris=[callback.uri],
                    token_endpoint_auth_method="none",
                ),
                storage=storage,
                redirect_handler=user.redirect_handler,
                callback_handler=user.callback_handler,
            )
            http = httpx2.AsyncClient(
                auth=provider, timeout=30, event_hooks={"response": [traffic.on_response]}
            )
            try:
                async with (
                    http,
                    Client(streamable_http_client(demo_server.url, http_client=http)) as mcp,
                ):
                    # Allowed by scope and policy.
                    assert structured(await mcp.call_tool("list_notes", {})) == []
                    # Its sibling under the same scope, denied by policy: refused, no step-up.
                    with pytest.raises(MCPError) as denied:
                        await mcp.call_tool("whoami", {})
                    refusals["whoami"] = str(denied.value)
                    # add_note needs notes:write: the SDK steps up (403 insufficient_scope).
                    result = await mcp.call_tool("add_note", {"text": "todo: buy milk"})
                    assert not result.is_error, result
                    # An argument outside the policy's constraint is refused.
                    with pytest.raises(MCPError) as outside:
                        await mcp.call_tool("add_note", {"text": "buy milk"})
                    refusals["add_note"] = str(outside.value)
                    assert structured(await mcp.call_tool("list_notes", {})) == ["todo: buy milk"]
            finally:
                await browser.close()

    run_in_thread(scenario)

    assert "tool 'whoami' not granted" in refusals["whoami"]
    assert "add_note.text must start with 'todo:'" in refusals["add_note"]
    # Two browser flows: sign-in, then the notes:write step-up; the refusals caused none.
    assert len(user.authorization_urls) == 2
    mcp_replies = [e for e in traffic.exchanges if urlsplit(e["url"]).path == "/mcp"]
    forbidden = [e for e in mcp_replies if e["status"] == 403]
    assert ['scope="notes:write"' in e["challenge"] for e in forbidden] == [False, True, False]
    # The consent screen said what the policy removed and the constraint in plain words.
    assert "whoami" in user.screens[0].split("Not available to this application")[1]
    assert "text: starting with 'todo:'" in user.screens[1]
    token = AccessToken.objects.filter(application__name="SDK tools client").latest("pk")
    claims = claims_of(storage.tokens[-1].access_token)
    assert token.jti == claims["jti"]
    assert claims["authorization_details"] == [
        {
            "type": "mcp_tool",
            "locations": [demo_server.url],
            "actions": ["add_note", "call_downstream", "call_upstream", "list_notes"],
            "constraints": {"add_note": {"text": {"prefix": "todo:"}}},
        }
    ]
